import json
from pathlib import Path

import pytest
from leadflow_contracts.compat import compare, compare_dirs
from pydantic import BaseModel, Field

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[4]


class Inner(BaseModel):
    code: str
    size: int | None = None


class V1(BaseModel):
    lead_id: str
    email: str | None = None
    score: float = 0
    kind: str = Field(default="a", json_schema_extra={"enum": ["a", "b"]})
    inner: Inner | None = None


def _breaks(new_model: type[BaseModel]) -> list[str]:
    return [f"{b.path}: {b.problem}" for b in compare("E", V1.model_json_schema(), new_model.model_json_schema())]


def test_adding_an_optional_field_is_compatible():
    class V2(V1):
        campaign: str | None = None

    assert _breaks(V2) == []


def test_removed_field_is_breaking():
    class V2(BaseModel):
        lead_id: str
        score: float = 0
        kind: str = Field(default="a", json_schema_extra={"enum": ["a", "b"]})
        inner: Inner | None = None

    assert _breaks(V2) == ["/email: field removed or renamed"]


def test_new_required_field_is_breaking():
    class V2(V1):
        campaign: str

    assert _breaks(V2) == ["/campaign: new required field"]


def test_narrowed_types_and_enums_are_breaking():
    class V2(BaseModel):
        lead_id: str
        email: str
        score: int = 0
        kind: str = Field(default="a", json_schema_extra={"enum": ["a"]})
        inner: Inner | None = None

    problems = _breaks(V2)
    assert any(p.startswith("/email: type narrowed") for p in problems)
    assert any(p.startswith("/score: type narrowed") for p in problems)
    assert any(p.startswith("/kind: enum values removed") for p in problems)
    assert "/email: new required field" in problems


def test_nested_field_removal_is_found_through_refs():
    class Inner2(BaseModel):
        code: str

    class V2(BaseModel):
        lead_id: str
        email: str | None = None
        score: float = 0
        kind: str = Field(default="a", json_schema_extra={"enum": ["a", "b"]})
        inner: Inner2 | None = None

    assert _breaks(V2) == ["/inner/size: field removed or renamed"]


def test_current_schemas_are_compatible_with_the_last_release():
    released = ROOT / "deploy" / "schemas" / "released" / "v1"
    assert sorted(released.glob("*.json")), "a released schema set exists"
    problems = compare_dirs(released, ROOT / "deploy" / "schemas")
    assert problems == [], "\n".join(map(str, problems))


def test_released_schemas_are_real_json_schema(tmp_path):
    released = ROOT / "deploy" / "schemas" / "released" / "v1"
    for path in released.glob("*.json"):
        schema = json.loads(path.read_text())
        assert schema["type"] == "object" and "event_id" in schema["properties"]


def test_requiring_the_always_serialised_event_id_is_compatible_but_other_new_required_fields_are_not():
    class Old(BaseModel):
        event_id: str = Field(default_factory=lambda: "random")
        lead_id: str
        note: str = ""

    class New(BaseModel):
        event_id: str
        lead_id: str
        note: str

    problems = [f"{b.path}: {b.problem}" for b in compare("E", Old.model_json_schema(), New.model_json_schema())]
    assert problems == ["/note: new required field"]
