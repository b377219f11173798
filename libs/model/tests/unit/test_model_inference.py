"""The missing-module finder: refuses only what is not installed, at once, and keeps every import's outcome."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_model.inference import MissingModuleFinder, refuse_missing_modules


@pytest.fixture
def clean_meta_path():
    before = list(sys.meta_path)
    yield
    sys.meta_path[:] = before


def _absent_name() -> str:
    return f"leadflow_absent_{uuid.uuid4().hex[:8]}"


def test_installs_once_and_refuses_only_absent_names(clean_meta_path):
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, MissingModuleFinder)]
    absent = _absent_name()
    finder = refuse_missing_modules([absent, "json", "numpy"])
    assert finder is not None and finder.names == {absent}  # installed modules are never refused
    assert refuse_missing_modules([_absent_name()]) is finder  # once per process
    assert sum(isinstance(f, MissingModuleFinder) for f in sys.meta_path) == 1
    with pytest.raises(ModuleNotFoundError) as err:
        importlib.import_module(absent)
    assert err.value.name == absent
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{absent}.sub")
    assert importlib.import_module("json").dumps([1]) == "[1]"


def test_nothing_to_refuse_installs_nothing(clean_meta_path):
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, MissingModuleFinder)]
    assert refuse_missing_modules(["json", "numpy"]) is None
    assert not any(isinstance(f, MissingModuleFinder) for f in sys.meta_path)


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,12}(\.[a-z_][a-z0-9_]{0,8}){0,2}", fullmatch=True))
def test_finder_answers_only_for_its_top_level_names(name):
    finder = MissingModuleFinder(["leadflow_refused"])
    top = name.partition(".")[0]
    if top == "leadflow_refused":
        with pytest.raises(ModuleNotFoundError):
            finder.find_spec(name)
    else:
        assert finder.find_spec(name) is None  # the normal search goes on
    with pytest.raises(ModuleNotFoundError):
        finder.find_spec("leadflow_refused." + name)


def test_refused_import_is_quicker_than_the_path_search(clean_meta_path):
    """The point of it: a refused import skips the walk over every sys.path entry."""
    absent = _absent_name()

    def cost() -> float:
        started = time.perf_counter()
        for _ in range(300):
            try:
                importlib.import_module(absent)
            except ModuleNotFoundError:
                pass
        return time.perf_counter() - started

    searched = min(cost() for _ in range(3))
    sys.meta_path.insert(0, MissingModuleFinder([absent]))
    refused = min(cost() for _ in range(3))
    assert refused < searched / 2
