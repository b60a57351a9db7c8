"""The audit trail part of the SDK: query recorded calls, or follow them as they happen."""

from __future__ import annotations

from sluice.sdk.audit.client import AuditClient, AuditTail, OutcomeLike, outcome_name, outcome_value

__all__ = ["AuditClient", "AuditTail", "OutcomeLike", "outcome_name", "outcome_value"]
