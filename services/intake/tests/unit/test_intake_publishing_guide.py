"""The "Publishing leads" guide (services/intake/docs/publishing.md) says what the code does: every
field, every rejection reason with intake's HTTP status, every 401 code, a signing snippet that
matches intake's check, and the example files quoted as they are."""

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from leadflow_contracts import Contract, LeadSourceKind, LeadSubmitted, RejectionReason
from leadflow_intake.domain import signatures
from leadflow_intake.domain.rejections import HTTP_STATUS
from pydantic import BaseModel

pytestmark = pytest.mark.unit
INTAKE = Path(__file__).resolve().parents[2]
DOCS = INTAKE / "docs"
GUIDE = (DOCS / "publishing.md").read_text()


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"leadflow_guide_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        nested = [
            a
            for a in getattr(info.annotation, "__args__", (info.annotation,))
            if isinstance(a, type) and issubclass(a, Contract)
        ]
        for sub in nested:
            paths.extend(_field_paths(sub, f"{path}."))
    return paths


def test_quoted_examples_are_the_files_themselves():
    include = _load(DOCS / "include_examples.py")
    assert include.render(GUIDE) == GUIDE, "run python services/intake/docs/include_examples.py"
    for name in ("lead.json", "publish_aiokafka.py", "publish_confluent.py", "publish_kcat.sh", "post_curl.sh"):
        assert f"<!-- include: examples/{name} -->" in GUIDE


def test_a_changed_example_makes_the_quote_stale(tmp_path):
    include = _load(DOCS / "include_examples.py")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "x.sh").write_text("echo one\n")
    text = include.render("intro\n<!-- include: examples/x.sh -->\nafter\n", tmp_path)
    assert text == "intro\n<!-- include: examples/x.sh -->\n```bash\necho one\n```\nafter\n"
    (tmp_path / "examples" / "x.sh").write_text("echo two\n")
    assert include.render(text, tmp_path) == text.replace("one", "two")


def test_every_lead_submitted_field_is_explained():
    missing = []
    # trace: publishers leave it out (the guide says so); leadflow appends its decisions there
    for path in [p for p in _field_paths(LeadSubmitted) if not p.startswith("trace.")]:
        parent, _, leaf = path.rpartition(".")
        if f"`{path}`" in GUIDE or (parent and f"`{parent}.{leaf}`" in GUIDE):
            continue
        if parent and f"`{leaf}`" in GUIDE and f"`{parent}." in GUIDE:  # grouped row: `a.b.x` `y` `z`
            continue
        missing.append(path)
    assert missing == []
    for kind in LeadSourceKind:
        assert f"`{kind.value}`" in GUIDE


def test_every_rejection_reason_has_a_row_with_intakes_http_status():
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (\d{3}) \|", GUIDE, re.M))
    assert {reason.value: int(rows[reason.value]) for reason in RejectionReason if reason.value in rows} == {
        reason.value: status for reason, status in HTTP_STATUS.items()
    }


def test_every_authentication_failure_code_is_explained():
    sources = (INTAKE / "src" / "leadflow_intake" / "domain" / "signatures.py").read_text()
    sources += (INTAKE / "src" / "leadflow_intake" / "http.py").read_text()
    codes = set(re.findall(r'AuthFailure\(\s*"([a-z_]+)"', sources))
    assert {"missing_api_key", "invalid_api_key", "invalid_signature", "stale_timestamp"} <= codes
    assert [c for c in sorted(codes) if f"`{c}`" not in GUIDE] == []


def test_the_guides_signing_snippet_passes_intakes_signature_check():
    snippet = GUIDE.split("In Python, without any leadflow package:", 1)[1].split("```python\n", 1)[1]
    snippet = snippet.split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "publishing.md", "exec"), namespace)  # our own documentation
    body = (DOCS / "examples" / "lead.json").read_bytes()
    headers = namespace["leadflow_headers"]("demo-webform", "demo-webform-key", b"s3cret", body)
    failure = signatures.check_signature(
        secret=b"s3cret",
        body=body,
        timestamp_header=headers["X-Leadflow-Timestamp"],
        signature_header=headers["X-Leadflow-Signature"],
        now=float(headers["X-Leadflow-Timestamp"]),
    )
    assert failure is None
    tampered = signatures.check_signature(
        secret=b"s3cret",
        body=body + b" ",
        timestamp_header=headers["X-Leadflow-Timestamp"],
        signature_header=headers["X-Leadflow-Signature"],
        now=float(headers["X-Leadflow-Timestamp"]),
    )
    assert tampered is not None and tampered.code == "invalid_signature"
