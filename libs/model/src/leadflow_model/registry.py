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
from functools import cached_property
from pathlib import Path

import numpy as np
from leadflow_contracts import LeadEnriched, ModelScore, ScoreReason
from leadflow_platform.logging import get_logger

from leadflow_model.artifacts import ACTIVE_FILE, ArtifactError, LoadedModel, load_artifact, read_active
from leadflow_model.explain import Explainer, bin_words, format_contribution, top_k
from leadflow_model.features import FeatureSpec, encode
from leadflow_model.inference import refuse_missing_modules
from leadflow_model.intake import IntakeExtractor
from leadflow_model.threads import limit_threads

log = get_logger("leadflow_model.registry")


def _reason_table(spec: FeatureSpec, explainer: Explainer | None) -> list[list[ScoreReason | None]]:
    """One ScoreReason per (group, bin), built once per model: a lead's reasons are look-ups."""
    if explainer is None:
        return []
    return [
        [
            ScoreReason(
                component="model", points=round(d * 100, 1), reason=format_contribution(bin_words(spec, ge, b), d)
            )
            if abs(d) >= 0.005
            else None
            for b, d in enumerate(ge.effects)
        ]
        for ge in explainer.groups
    ]


def _model_score(
    version: str, probability: float, reasons: tuple[ScoreReason, ...], shadow: tuple[tuple[str, float], ...]
) -> ModelScore:
    """A ModelScore without re-validation (values are produced here, in range): ~10x cheaper per lead."""
    m = ModelScore.__new__(ModelScore)
    object.__setattr__(
        m,
        "__dict__",
        {"model_version": version, "probability": probability, "contributions": reasons, "shadow": shadow},
    )
    object.__setattr__(m, "__pydantic_fields_set__", _FIELDS_SET)
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m


_FIELDS_SET = {"model_version", "probability", "contributions", "shadow"}
_NO_REASON = np.array(None, dtype=object)  # compared element-wise with the picked reasons: the empty slots


@dataclass(frozen=True)
class _Slot:
    loaded: LoadedModel
    extractor: IntakeExtractor
    reasons: list[list[ScoreReason | None]]

    @cached_property
    def flat_reasons(self) -> tuple[np.ndarray, np.ndarray]:
        """(object array of every group's bins end to end, start offset of each group)."""
        sizes = [len(r) for r in self.reasons]
        flat = np.empty(sum(sizes), dtype=object)
        flat[:] = [r for group in self.reasons for r in group]
        return flat, np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

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
        threads: int | None = 1,
    ) -> None:
        if threads is not None:
            limit_threads(threads)  # process-wide: OpenMP threads only slow a batch scorer on a shared host
        refuse_missing_modules()  # process-wide: scikit-learn's per-call probe for pandas costs more than the predict
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
            slot = _Slot(
                loaded,
                IntakeExtractor(loaded.manifest.columns, loaded.manifest.intake, loaded.manifest.missing_values),
                _reason_table(loaded.manifest.spec, loaded.manifest.explainer),
            )
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
        p = np.clip(active.predict(x), 0.0, 1.0)
        explainer = active.loaded.manifest.explainer if self.explain else None
        top: np.ndarray | None = None
        if explainer is not None:
            bins = explainer.bins(x)
            deltas = explainer.deltas_from_bins(bins)
            top = top_k(deltas, self.top_k)
        shadows: list[tuple[str, np.ndarray]] = []
        for cand in state.shadow:
            try:
                if cand.loaded.manifest.spec == spec:
                    xs = x
                else:
                    xs = encode(cand.loaded.manifest.spec, [cand.extractor.record(ev) for ev in leads])
                shadows.append((cand.version, cand.predict(xs)))
            except Exception as e:  # a broken candidate must never affect the active score
                log.warning("shadow_model_failed", version=cand.version, error=str(e)[:300])
        out: list[ModelScore | None] = []
        version = active.version
        shadow_cols = [(v, np.round(ps, 6).tolist()) for v, ps in shadows]
        probs = p.tolist()
        per_lead: list[tuple[ScoreReason, ...]] | None = None
        if top is not None:
            # reasons of every (lead, rank) by one fancy-index into the flat (group, bin) table
            flat, offsets = active.flat_reasons
            picked: np.ndarray = flat[offsets[top] + np.take_along_axis(bins, top, axis=1)]
            complete = np.not_equal(picked, _NO_REASON).all(axis=1).tolist()
            per_lead = [
                tuple(row) if ok else tuple(r for r in row if r is not None)
                for row, ok in zip(picked.tolist(), complete, strict=True)
            ]
        no_shadow: tuple[tuple[str, float], ...] = ()
        for i in range(len(leads)):
            shadow = tuple((v, ps[i]) for v, ps in shadow_cols) if shadow_cols else no_shadow
            out.append(_model_score(version, probs[i], per_lead[i] if per_lead is not None else (), shadow))
        return out
