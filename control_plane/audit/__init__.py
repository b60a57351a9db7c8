"""The audit trail: an OpenTelemetry span for every call, kept as records in the database.

`AuditTrail` (trail.py) owns the parts: the tracer and its span processor (tracing.py), the
store (store.py, sql_store.py), the batched writer (writer.py) and the OTLP outbox exporter
(otlp.py). The server's audit interceptor (control_plane/interceptors/audit.py) uses it.
"""

from sluice.control_plane.audit.model import AuditFilter, AuditRecord, Outcome
from sluice.control_plane.audit.trail import AuditConfig, AuditTrail

__all__ = ["AuditConfig", "AuditFilter", "AuditRecord", "AuditTrail", "Outcome"]
