"""The operations of the audit trail's store, independent of how records are kept.

Records are written three ways: inside the write transaction of the change they record
(`insert`, on the caller's connection, while the call is still in flight), completed when the
call ends (`complete`), or in batches by the background writer (`write_batch`). Only complete
records are sequenced: `seq` numbers them densely in the order their sequencing commits, so a
reader that has seen seq N has seen every record before it (`after`, for follow and export).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from sluice.common.paging import Page, PageRequest
from sluice.control_plane.audit.model import AuditFilter, AuditRecord, Completion, FollowBatch


class AuditStore(ABC):
    @abstractmethod
    def insert(self, conn: Connection, record: AuditRecord) -> int:
        """Writes record on conn, in the caller's transaction, and returns its row id. It
        commits or rolls back with that transaction, and is left unsequenced."""

    @abstractmethod
    def exists(self, conn: Connection, row_id: int, span_id: str) -> bool:
        """Whether row row_id holds the record of span span_id, as conn's transaction sees it
        (a row id of a rolled-back insert may be taken again)."""

    @abstractmethod
    def complete(self, completion: Completion) -> bool:
        """Overwrites the row of a record written earlier with its final form, in a
        transaction of its own; False (and nothing written) when that row is not there."""

    @abstractmethod
    def write_batch(
        self, records: Sequence[AuditRecord], completions: Sequence[Completion] = ()
    ) -> int:
        """In one transaction: inserts records, completes completions (inserting those whose
        record is missing), then sequences every complete unsequenced record. Returns the
        number of records sequenced."""

    @abstractmethod
    def recover_interrupted(self, end_ns: int) -> int:
        """Completes the records of calls that never ended (the server stopped mid-call) as
        failures with status UNKNOWN, ending at end_ns; returns how many."""

    @abstractmethod
    def query(self, audit_filter: AuditFilter, page: PageRequest) -> Page[AuditRecord]:
        """Records matching the filter, newest first (by start time), complete or not."""

    @abstractmethod
    def after(
        self, seq: int, audit_filter: AuditFilter | None = None, limit: int = 100
    ) -> FollowBatch:
        """Sequenced records after seq that match the filter, in seq order, at most limit;
        next_seq is where to continue (past records that did not match)."""

    @abstractmethod
    def last_seq(self) -> int:
        """The highest seq so far; 0 for an empty trail."""

    @abstractmethod
    def seq_before(self, time: datetime) -> int:
        """A seq after which every record of a call started at or after time lies."""

    @abstractmethod
    def prune(self, before: datetime, limit: int, max_seq: int | None = None) -> int:
        """Deletes up to limit sequenced records of calls started before `before`, oldest
        first, in one transaction; returns how many (call again while it returns limit).

        Kept whatever their age: records not yet sequenced (still being written), the record
        with the highest seq (seqs never restart, so followers and exporters stay in place),
        and, when max_seq is given, records after it (not yet delivered by an exporter).
        """

    @abstractmethod
    def get_cursor(self, name: str) -> int:
        """The seq an exporter has delivered up to; 0 when it has delivered nothing."""

    @abstractmethod
    def set_cursor(self, name: str, seq: int) -> None:
        """Records that the exporter name has delivered every record up to seq."""
