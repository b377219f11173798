"""Custom form answers at intake: every key must be declared (``deploy/custom-answers.yaml``) and every
value allowed. Accepted answers travel on in their canonical spelling; a problem either costs the answer
(``on_invalid: drop``, the default: the lead is accepted and the trace names the answer and why) or the
lead (``on_invalid: reject``: ``invalid_custom_answer`` naming the answer). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import replace

from leadflow_contracts import CustomAnswersConfig, LeadSubmitted, RejectionReason

from leadflow_intake.domain.decide import Accepted
from leadflow_intake.domain.rejections import Rejection

NOT_CONFIGURED = "not a declared custom answer (no custom answers are configured)"


def apply_custom_answers(
    sub: LeadSubmitted, accepted: Accepted, config: CustomAnswersConfig | None
) -> Accepted | Rejection:
    if not sub.custom_answers:
        return accepted
    if config is None:
        ok: dict[str, bool | float | str] = {}
        problems = [(k, NOT_CONFIGURED) for k in sub.custom_answers]
        reject = False
    else:
        ok, found = config.validate_answers(dict(sub.custom_answers))
        problems = [(p.key, p.problem) for p in found]
        reject = config.on_invalid == "reject"
    if problems and reject:
        key, why = problems[0]
        return Rejection(
            RejectionReason.INVALID_CUSTOM_ANSWER,
            f"custom_answers.{key}: {why}",
            f"custom_answers.{key}",
            tuple(
                {"field": f"custom_answers.{k}", "type": RejectionReason.INVALID_CUSTOM_ANSWER.value, "message": w}
                for k, w in problems
            ),
        )
    lead = accepted.lead.model_copy(update={"custom_answers": ok})
    step = accepted.step
    data = dict(step.data)
    data["custom_answers"] = ",".join(sorted(ok)) or None
    reason = step.reason
    if problems:
        reason += "; dropped " + "; ".join(f"custom_answers.{k} ({w})" for k, w in problems)
        data["dropped_custom_answers"] = ",".join(k for k, _ in problems)
    return replace(
        accepted,
        lead=lead,
        step=step.model_copy(update={"reason": reason, "data": data}),
        dropped=(*accepted.dropped, *(f"custom_answers.{k}" for k, _ in problems)),
    )
