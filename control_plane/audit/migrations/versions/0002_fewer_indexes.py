"""Drop the principal and request-id indexes of audit_events: every index costs every insert,
and a server writes a row per call. (Databases made at revision 0001 before it lost them.)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DROPPED = {
    "ix_audit_events_principal_time": ["principal", "time"],
    "ix_audit_events_request_id": ["request_id"],
}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name="audit_events", if_exists=True)


def downgrade() -> None:
    existing = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("audit_events")}
    for name, columns in DROPPED.items():
        if name not in existing:
            op.create_index(name, "audit_events", columns)
