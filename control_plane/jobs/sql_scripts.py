"""Uploaded scripts of the SQL job store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.rows import JOB_SCRIPTS
from sluice.control_plane.jobs.scripts import checked_script_name, uploaded_location
from sluice.control_plane.jobs.sql_base import SqlStoreBase


class ScriptOps(SqlStoreBase):
    def put_script(self, account: str, name: str, content: bytes) -> str:
        acc = checks.account(account)
        script_name = checked_script_name(name)
        if len(content) > self._max_script_bytes:
            raise InvalidInput(
                f"script {script_name} is {len(content)} bytes; the limit is "
                f"{self._max_script_bytes}"
            )
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"script {script_name} is not UTF-8 text") from None
        values = {
            "account": acc,
            "name": script_name,
            "content": content,
            "size": len(content),
            "updated_on": self._now(),
        }
        dialect: Any = postgresql if self._db.dialect == "postgresql" else sqlite
        # An upsert: two first uploads of one name must not collide.
        stmt = dialect.insert(JOB_SCRIPTS).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[JOB_SCRIPTS.c.account, JOB_SCRIPTS.c.name],
            set_={key: stmt.excluded[key] for key in ("content", "size", "updated_on")},
        )
        with self._db.write() as conn:
            conn.execute(stmt)
        return uploaded_location(script_name)

    def get_script(self, account: str, name: str) -> bytes:
        acc = checks.account(account)
        script_name = checked_script_name(name)
        with self._db.read() as conn:
            content = conn.execute(
                select(JOB_SCRIPTS.c.content).where(
                    JOB_SCRIPTS.c.account == acc, JOB_SCRIPTS.c.name == script_name
                )
            ).scalar()
        if content is None:
            raise EntityNotFound(f"Script {script_name} not found")
        return bytes(content)
