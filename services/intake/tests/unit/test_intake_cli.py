import argparse

import pytest
from leadflow_intake.cli import register
from leadflow_intake.domain.signatures import check_signature
from leadflow_intake.domain.suppression import suppression_hash
from leadflow_intake.settings import read_secrets

pytestmark = pytest.mark.unit


def run(argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_read_secrets_reads_the_named_variables_as_secretstr(monkeypatch):
    monkeypatch.setenv("MY_SOURCE_SECRET", "hush")
    monkeypatch.delenv("MISSING_SECRET", raising=False)
    secrets = read_secrets(["MY_SOURCE_SECRET", "MISSING_SECRET"])
    assert secrets["MY_SOURCE_SECRET"].get_secret_value() == "hush"
    assert "hush" not in repr(secrets)
    assert secrets["MISSING_SECRET"] is None


def test_cli_sign_prints_headers_that_verify(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WEB_SECRET", "hush")
    body = tmp_path / "lead.json"
    body.write_bytes(b'{"person": {"email": "a@b.de"}}')
    assert (
        run(
            [
                "intake",
                "sign",
                str(body),
                "--source",
                "web",
                "--key",
                "k",
                "--secret-env",
                "WEB_SECRET",
                "--headers-only",
            ]
        )
        == 0
    )
    headers = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert (
        check_signature(
            secret=b"hush",
            body=body.read_bytes(),
            timestamp_header=headers["X-Leadflow-Timestamp"],
            signature_header=headers["X-Leadflow-Signature"],
            now=int(headers["X-Leadflow-Timestamp"]),
        )
        is None
    )


def test_cli_sign_without_the_secret_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    body = tmp_path / "lead.json"
    body.write_bytes(b"{}")
    assert run(["intake", "sign", str(body), "--source", "web", "--key", "k", "--secret-env", "NOPE_SECRET"]) == 2
    assert "NOPE_SECRET is not set" in capsys.readouterr().err


def test_cli_hash_normalises_before_hashing(capsys):
    assert run(["intake", "hash", "--region", "DE", " Anna@Example.COM ", "030 1234567"]) == 0
    assert capsys.readouterr().out.split() == [suppression_hash("anna@example.com"), suppression_hash("+49301234567")]


def test_cli_hash_reports_invalid_values(capsys):
    assert run(["intake", "hash", "not-a-phone"]) == 1
    assert "skipped" in capsys.readouterr().out
