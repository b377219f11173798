import hashlib
import hmac
from pathlib import Path

import pytest
from leadflow_intake.adapters.config_files import (
    ConfigError,
    SourceRegistry,
    load_sources_file,
    load_suppression_file,
)
from leadflow_intake.domain.signatures import api_key_hash, check_api_key, check_signature, sign
from leadflow_intake.domain.suppression import suppression_hash
from leadflow_intake.sign import curl_command, sign_headers
from pydantic import SecretStr

pytestmark = pytest.mark.unit

SECRET = b"s3cret"
BODY = b'{"person": {"email": "anna@example.com"}}'
NOW = 1_780_000_000


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == "sha256=" + expected


def verify(**overrides):
    args = {
        "secret": SECRET,
        "body": BODY,
        "timestamp_header": str(NOW),
        "signature_header": sign(SECRET, NOW, BODY),
        "now": NOW + 10,
    }
    args.update(overrides)
    return check_signature(**args)


def test_a_fresh_valid_signature_passes():
    assert verify() is None


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"body": BODY + b" "}, "invalid_signature"),
        ({"secret": b"other"}, "invalid_signature"),
        ({"signature_header": "sha256=" + "0" * 64}, "invalid_signature"),
        ({"signature_header": "md5=abc"}, "invalid_signature"),
        ({"signature_header": "sha256=ünïcode"}, "invalid_signature"),
        ({"signature_header": None}, "missing_signature"),
        ({"timestamp_header": None}, "missing_signature"),
        ({"timestamp_header": "yesterday"}, "invalid_timestamp"),
        ({"now": NOW + 301}, "stale_timestamp"),
        ({"now": NOW - 301}, "stale_timestamp"),
    ],
)
def test_bad_or_stale_signatures_fail_with_a_code(overrides, code):
    failure = verify(**overrides)
    assert failure is not None and failure.code == code


def test_signature_for_another_timestamp_is_a_replay_and_fails():
    old = sign(SECRET, NOW - 10, BODY)
    failure = verify(signature_header=old)
    assert failure is not None and failure.code == "invalid_signature"


def test_the_tolerance_edge_is_inclusive():
    assert verify(now=NOW + 300) is None


def test_uppercase_hex_signature_is_accepted():
    assert verify(signature_header="sha256=" + sign(SECRET, NOW, BODY)[7:].upper()) is None


def test_api_key_checks():
    stored = api_key_hash("key-1")
    assert check_api_key("key-1", stored) is None
    assert check_api_key("key-2", stored).code == "invalid_api_key"
    assert check_api_key(None, stored).code == "missing_api_key"
    assert check_api_key("key-1", stored.upper()) is None


def test_sign_helper_builds_headers_the_server_accepts():
    headers = sign_headers(source="web", api_key="k", secret=SECRET, body=BODY, timestamp=NOW)
    assert headers["X-Leadflow-Source"] == "web"
    assert (
        verify(signature_header=headers["X-Leadflow-Signature"], timestamp_header=headers["X-Leadflow-Timestamp"])
        is None
    )
    cmd = curl_command("http://127.0.0.1:8001/v1/leads", headers, "lead.json")
    assert cmd.startswith("curl -sS -X POST http://127.0.0.1:8001/v1/leads")
    assert "'X-Leadflow-Signature: sha256=" in cmd and cmd.endswith("--data-binary @lead.json")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sources_file_loads_and_resolves_secrets(tmp_path):
    path = write(
        tmp_path,
        "sources.yaml",
        f"""
version: 1
sources:
  web:
    api_key_sha256: {api_key_hash("k")}
    signing_secret_env: WEB_SECRET
    default_region: germany
  batch:
    api_key_sha256: {api_key_hash("b")}
    require_signature: false
""",
    )
    spec = load_sources_file(path)
    registry = SourceRegistry.build(spec, {"WEB_SECRET": SecretStr("x")})
    assert registry.get("web").secret.get_secret_value() == "x"
    assert registry.default_region("web") == "DE"
    assert registry.default_region("unknown") is None
    assert registry.missing_secrets() == []
    assert SourceRegistry.build(spec, {}).missing_secrets() == ["web"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("version: 2\nsources: {}\n", "version"),
        ("sources:\n  web:\n    api_key_sha256: abc\n", "sources.web.api_key_sha256"),
        ("sources:\n  web:\n    default_region: Atlantis\n", "sources.web.default_region"),
        ("sources:\n  web:\n    signing_secret_env: 'lower case'\n", "sources.web.signing_secret_env"),
        ("sources:\n  web:\n    colour: blue\n", "sources.web.colour"),
        ("sources: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_sources_files_name_the_field(tmp_path, body, names):
    path = write(tmp_path, "sources.yaml", body)
    with pytest.raises(ConfigError) as err:
        load_sources_file(path)
    assert names in str(err.value) and str(path) in str(err.value)


def test_the_committed_example_sources_file_is_valid():
    path = Path(__file__).parents[2] / "config" / "sources.example.yaml"
    spec = load_sources_file(path)
    assert spec.sources["demo-webform"].api_key_sha256 == api_key_hash("demo-webform-key")


def test_suppression_file_loads_hashes_with_comments(tmp_path):
    digest = suppression_hash("anna@example.com")
    path = write(tmp_path, "s.txt", f"# header\n\n{digest.upper()}  # anna\n")
    suppression = load_suppression_file(path)
    assert "anna@example.com" in suppression and len(suppression) == 1
    assert "bert@example.com" not in suppression


def test_suppression_file_with_a_bad_line_names_the_line(tmp_path):
    path = write(tmp_path, "s.txt", f"{suppression_hash('a')}\nanna@example.com\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_suppression_file(path)


def test_the_committed_example_suppression_list_holds_the_demo_contacts():
    path = Path(__file__).parents[2] / "config" / "suppression.example.txt"
    suppression = load_suppression_file(path)
    assert "donotcontact@example.com" in suppression and "+49309999999" in suppression
