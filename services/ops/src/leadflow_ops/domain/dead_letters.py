"""What a dead letter means for the person watching: an input error at the edge, or something to act on. Pure.

- **input** (neutral): intake refused a submission as the sender wrote it (``leads.rejected``: invalid JSON, a
  schema violation, a string too long, nesting too deep, no usable contact…). The sender's data is wrong, the
  pipeline is fine: counted, shown without alarm. The demo generator sends such records on purpose.
- **attention** (red): a record that passed intake and a service inside the pipeline could not process — poison
  on an internal topic, a processing error, crm-sync unable to write a lead (not in Salesforce) — or a record on
  a dead-letter topic that is not even readable. Something in the system or in Salesforce needs a look.
"""

from __future__ import annotations

from typing import Literal

from leadflow_contracts import topics as T

Severity = Literal["attention", "input"]


def severity(source_topic: str, service: str) -> Severity:
    """``input`` only for intake's own validation rejects; everything else on a dead-letter topic is ``attention``."""
    return "input" if source_topic == T.LEADS_REJECTED and service == "intake" else "attention"
