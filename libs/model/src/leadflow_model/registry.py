"""``ModelRegistry``: the score service's model port (``score_batch(leads) -> list[ModelScore | None]``).

It watches ``<artifacts>/active.json``: at start and whenever the pointer changes (checked at most every
``check_interval`` seconds, on the scoring call) it loads the active version and the shadow candidates,
then swaps them in at once; the service never restarts. A pointer or artifact that fails to load is
logged and the previous models keep scoring. Shadow candidates score the same batch; their
probabilities go into ``ModelScore.shadow`` and are never used for the score.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from leadflow_contracts import LeadEnriched, ModelScore, ScoreReason
from leadflow_platform.logging import get_logger

from leadflow_model.artifacts import ACTIVE_FILE, ArtifactError, LoadedModel, load_artifact, read_active
from leadflow_model.explain import contributions, format_contribution, top_words
from leadflow_model.features import encode
from leadflow_model.intake import IntakeExtractor

log = get_logger("leadflow_model.registry")


@dataclass(frozen=True)
class _Slot:
    loaded: LoadedModel
    extractor: IntakeExtractor

    @property
    def version(self) -> str:
        return self.loaded.version

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.loaded.model.predict_proba(x)[:, 1], dtype=np.float64)


@dataclass(frozen=True)
class _State:
    active: _Slot | None
    shadow: tuple[_Slot, ...]
    stamp: tuple[int, int, int] | None


class ModelRegistry:
    def __init__(
        self,
        root: str | Path,
        *,
        check_interval: float = 2.0,
        top_k: int = 3,
        explain: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root)
        self.check_interval = check_interval
        self.top_k = top_k
        self.explain = explain
        self._monotonic = monotonic
        self._state = _State(None, (), None)
        self._cache: dict[str, _Slot] = {}
        self._next_check = 0.0
        self.last_error: str | None = None
        self.reloads = 0
        self.refresh()

    # ---- versions ----------------------------------------------------------------------------
    @property
    def active_version(self) -> str | None:
        return self._state.active.version if self._state.active else None

    @property
    def shadow_versions(self) -> tuple[str, ...]:
        return tuple(s.version for s in self._state.shadow)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.root / ACTIVE_FILE)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _slot(self, version: str) -> _Slot:
        slot = self._cache.get(version)
        if slot is None:
            loaded = load_artifact(self.root / version)
            slot = _Slot(loaded, IntakeExtractor(loaded.manifest.intake, loaded.manifest.missing_values))
            self._cache[version] = slot
        return slot

    def refresh(self, *, force: bool = False) -> bool:
        """Reload when active.json changed. True when the models in use changed."""
        stamp = self._stamp()
        if not force and stamp == self._state.stamp:
            return False
        try:
            pointer = read_active(self.root)
            active = self._slot(pointer.active) if pointer.active else None
            shadow = tuple(self._slot(v) for v in pointer.shadow if v != pointer.active)
        except (ArtifactError, OSError, ValueError) as e:
            self.last_error = str(e)
            log.warning("model_reload_failed", root=str(self.root), error=str(e)[:300], keeping=self.active_version)
            self._state = _State(self._state.active, self._state.shadow, stamp)
            return False
        before = (self.active_version, self.shadow_versions)
        self._state = _State(active, shadow, stamp)
        keep = {s.version for s in (active, *shadow) if s is not None}
        self._cache = {v: s for v, s in self._cache.items() if v in keep}
        self.last_error = None
        changed = before != (self.active_version, self.shadow_versions)
        if changed:
            self.reloads += 1
            log.info("model_loaded", active=self.active_version, shadow=list(self.shadow_versions))
        return changed

    def _maybe_refresh(self) -> None:
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + self.check_interval
            self.refresh()

    # ---- scoring -----------------------------------------------------------------------------
    def score_batch(self, leads: Sequence[LeadEnriched]) -> list[ModelScore | None]:
        self._maybe_refresh()
        state = self._state
        if state.active is None or not leads:
            return [None] * len(leads)
        active = state.active
        spec = active.loaded.manifest.spec
        records = [active.extractor.record(ev) for ev in leads]
        x = encode(spec, records)
        if self.explain:
            p, deltas, names = contributions(active.predict, spec, x)
        else:
            p, deltas, names = active.predict(x), None, []
        shadows: list[tuple[str, np.ndarray]] = []
        for cand in state.shadow:
            try:
                if cand.loaded.manifest.spec == spec and cand.extractor is not None:
                    xs = x
                else:
                    xs = encode(cand.loaded.manifest.spec, [cand.extractor.record(ev) for ev in leads])
                shadows.append((cand.version, cand.predict(xs)))
            except Exception as e:  # a broken candidate must never affect the active score
                log.warning("shadow_model_failed", version=cand.version, error=str(e)[:300])
        out: list[ModelScore | None] = []
        version = active.version
        for i in range(len(leads)):
            reasons: tuple[ScoreReason, ...] = ()
            if deltas is not None:
                reasons = tuple(
                    ScoreReason.model_construct(
                        component="model", points=round(d * 100, 1), reason=format_contribution(w, d)
                    )
                    for w, d in top_words(spec, x[i], deltas[i], names, self.top_k)
                )
            out.append(
                ModelScore.model_construct(
                    model_version=version,
                    probability=float(min(1.0, max(0.0, p[i]))),
                    contributions=reasons,
                    shadow=tuple((v, round(float(ps[i]), 6)) for v, ps in shadows),
                )
            )
        return out
