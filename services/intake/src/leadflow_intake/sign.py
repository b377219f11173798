"""Sign a lead for ``POST /v1/leads`` and print the curl command (or just the headers).

    python -m leadflow_intake.sign --source demo-webform --key demo-webform-key \\
        --secret-env INTAKE_SOURCE_SECRET_DEMO_WEBFORM lead.json

The secret is read from the named environment variable (never from the command line, where
other users could see it in the process list).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from leadflow_intake.domain.signatures import sign
from leadflow_intake.settings import read_secrets


def sign_headers(
    *, source: str, api_key: str, secret: bytes, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The headers that authenticate ``body`` as coming from ``source``."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "X-Leadflow-Source": source,
        "X-Leadflow-Key": api_key,
        "X-Leadflow-Timestamp": str(ts),
        "X-Leadflow-Signature": sign(secret, ts, body),
    }


def curl_command(url: str, headers: dict[str, str], body_file: str) -> str:
    parts = ["curl", "-sS", "-X", "POST", url]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    parts += ["--data-binary", f"@{body_file}"]
    return " ".join(shlex.quote(p) for p in parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadflow_intake.sign", description=__doc__.split("\n\n")[0])
    parser.add_argument("body", help="JSON file to send (signed byte for byte), or - for stdin")
    parser.add_argument("--source", required=True, help="X-Leadflow-Source")
    parser.add_argument("--key", required=True, help="the source's API key")
    parser.add_argument("--secret-env", required=True, help="environment variable holding the signing secret")
    parser.add_argument("--url", default="http://127.0.0.1:8001/v1/leads")
    parser.add_argument("--headers-only", action="store_true", help="print the headers, one per line")
    args = parser.parse_args(argv)

    secret = read_secrets([args.secret_env])[args.secret_env]
    if secret is None:
        print(f"error: environment variable {args.secret_env} is not set", file=sys.stderr)
        return 2
    body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
    headers = sign_headers(source=args.source, api_key=args.key, secret=secret.get_secret_value().encode(), body=body)
    if args.headers_only:
        for name, value in headers.items():
            print(f"{name}: {value}")
    else:
        print(curl_command(args.url, headers, args.body if args.body != "-" else "/dev/stdin"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
