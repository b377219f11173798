"""Print suppression-list lines for e-mails / phone numbers:
``python -m leadflow_intake.hash_contact [--region DE] alice@example.com "+49 30 1234567" >> suppression.txt``.
Values are normalised exactly as intake normalises them before hashing."""

from __future__ import annotations

import argparse

from leadflow_intake.domain.contact import ContactError, normalise_email, normalise_phone
from leadflow_intake.domain.emails import email_identity
from leadflow_intake.domain.suppression import suppression_hash


def normalised(value: str, region: str | None) -> str:
    if "@" in value:
        identity = email_identity(value)
        if identity is None:
            normalise_email(value)  # raises ContactError saying what is wrong
            raise ContactError("it is not a valid e-mail address")
        return identity
    return normalise_phone(value, region).e164


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadflow_intake.hash_contact", description=__doc__)
    parser.add_argument("values", nargs="+")
    parser.add_argument("--region", default=None, help="ISO country for national phone numbers")
    args = parser.parse_args(argv)
    status = 0
    for value in args.values:
        try:
            print(suppression_hash(normalised(value, args.region)))
        except ContactError as exc:
            print(f"# skipped an invalid value: {exc}")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
