"""Process-wide settings that make a predict call cost per lead, not per call.

scikit-learn 1.9 asks for pandas on every transform (``is_pandas_na``: ``from pandas import NA`` inside
``suppress(ImportError)``; the ensemble's imputers do it ~43 times per ``predict_proba``). Without pandas
installed, each of those imports walks every ``sys.path`` entry (23 in this workspace) and fails:
measured 65–230 ms per call of the ensemble at load 10 whatever the batch size, against 17–50 ms once a
missing module is refused at once. ``refuse_missing_modules`` puts a finder first on ``sys.meta_path``
that raises ``ModuleNotFoundError`` for names that were *not installed when it was installed*: what the
path search would end with, only without the search. An installed module is never touched.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

OPTIONAL_MODULES: tuple[str, ...] = ("pandas",)
"""Modules scikit-learn probes for at predict time that the scoring path does not need."""


class MissingModuleFinder:
    """A meta-path finder that answers "not installed" for a fixed set of top-level names."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None

    def __repr__(self) -> str:
        return f"MissingModuleFinder({sorted(self.names)})"


def refuse_missing_modules(names: Iterable[str] = OPTIONAL_MODULES) -> MissingModuleFinder | None:
    """Install (once per process) a finder refusing those of ``names`` that are not installed now.

    Returns the finder in use, or None when every name is installed (nothing to refuse)."""
    for finder in sys.meta_path:
        if isinstance(finder, MissingModuleFinder):
            return finder
    missing = [n for n in names if n not in sys.modules and importlib.util.find_spec(n) is None]
    if not missing:
        return None
    finder = MissingModuleFinder(missing)
    sys.meta_path.insert(0, finder)
    return finder
