"""Writes a crawl's tables to the catalog through the public API (the SDK), as the crawler's
role, under its SchemaChangePolicy.

A crawler changes only tables it made (parameter UPDATED_BY_CRAWLER is its name) or a catalog
target names; any other table of the same name is left as it is, with a warning. Tables it made
that the data no longer has are deleted, marked deprecated or logged (DeleteBehavior), and only
when their target was listed completely: an unreachable path never deletes anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sluice.agents.crawler.engine import TableResult
from sluice.catalog.v1 import types_pb2
from sluice.sdk.catalog import CatalogClient
from sluice.sdk.errors import AlreadyExists, EntityNotFound, SluiceError
from sluice.sdk.messages import to_message

CRAWLER_PARAMETER = "UPDATED_BY_CRAWLER"
DEPRECATED_PARAMETER = "DEPRECATED_BY_CRAWLER"
# Parameters that change with every crawl: a difference in them alone makes no new version.
_VOLATILE = frozenset({"recordCount", "averageRecordSize", "objectCount", "sizeKey"})


@dataclass(frozen=True)
class Policy:
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "DEPRECATE_IN_DATABASE"
    # CRAWL_NEW_FOLDERS_ONLY: existing tables get new partitions, never a new schema.
    new_folders_only: bool = False


@dataclass
class Outcome:
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    tables_deleted: list[str] = field(default_factory=list)
    partitions_created: int = 0
    partitions_deleted: int = 0
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "tables_created": len(self.tables_created),
            "tables_updated": len(self.tables_updated),
            "tables_deleted": len(self.tables_deleted),
            "partitions_created": self.partitions_created,
            "partitions_deleted": self.partitions_deleted,
            "tables": {
                "created": self.tables_created,
                "updated": self.tables_updated,
                "deleted": self.tables_deleted,
            },
        }


def _table_input(table: types_pb2.Table) -> types_pb2.TableInput:
    """The TableInput that writes table back as it is."""
    value = types_pb2.TableInput()
    for f in types_pb2.TableInput.DESCRIPTOR.fields:
        source = getattr(table, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            getattr(value, f.name).update(source)
        elif f.is_repeated:
            getattr(value, f.name).extend(source)
        elif f.message_type is not None:
            if table.HasField(f.name):
                getattr(value, f.name).CopyFrom(source)
        else:
            setattr(value, f.name, source)
    return value


def _shape(value: types_pb2.TableInput | types_pb2.Table) -> tuple[Any, ...]:
    sd = value.storage_descriptor
    return (
        tuple((c.name, c.type) for c in sd.columns),
        tuple((c.name, c.type) for c in value.partition_keys),
        sd.location,
        sd.input_format,
        sd.serde_info.serialization_library,
        tuple(sorted(sd.serde_info.parameters.items())),
        tuple(sorted((k, v) for k, v in value.parameters.items() if k not in _VOLATILE)),
    )


class CatalogWriter:
    """Applies crawl results to one database of the catalog.

    Args:
        catalog: The SDK's catalog client, holding the crawler role's scoped token.
        database: The crawler's database (made when missing).
        crawler: The crawler's name, recorded on every table it writes.
        policy: Its SchemaChangePolicy and RecrawlPolicy.
        stopped: Whether the crawl was asked to stop (checked between tables).
    """

    def __init__(
        self,
        catalog: CatalogClient,
        database: str,
        crawler: str,
        policy: Policy,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self._catalog = catalog
        self._database = database
        self._crawler = crawler
        self._policy = policy
        self._stopped = stopped
        self.outcome = Outcome()

    @property
    def policy(self) -> Policy:
        return self._policy

    def ensure_database(self) -> None:
        try:
            self._catalog.get_database(self._database)
        except EntityNotFound:
            with contextlib.suppress(AlreadyExists):
                self._catalog.create_database(
                    {"name": self._database, "description": f"made by crawler {self._crawler}"}
                )

    def write(self, tables: Iterable[TableResult], *, owned_only: bool = True) -> None:
        for table in tables:
            if self._stopped():
                return
            try:
                self._write(table, owned_only)
            except SluiceError as exc:
                self.outcome.warnings.append((table.location, f"table {table.name}: {exc}"))

    def _warn(self, where: str, message: str) -> None:
        self.outcome.warnings.append((where, message))

    def _write(self, result: TableResult, owned_only: bool) -> None:
        wanted = types_pb2.TableInput()
        wanted.CopyFrom(_as_table_input(result, self._crawler))
        try:
            existing = self._catalog.get_table(self._database, result.name)
        except EntityNotFound:
            existing = None
        if existing is None:
            try:
                self._catalog.create_table(self._database, wanted)
            except AlreadyExists:
                self._warn(result.location, f"table {result.name} was made meanwhile: left")
                return
            self.outcome.tables_created.append(result.name)
            self._add_partitions(result, set())
            return
        if owned_only and existing.parameters.get(CRAWLER_PARAMETER) != self._crawler:
            self._warn(
                result.location,
                f"table {self._database}.{result.name} exists and was not made by this "
                "crawler: left as it is",
            )
            return
        partitions = self._partitions(result) if result.partition_keys else []
        known = {tuple(p.values) for p in partitions}
        if self._policy.new_folders_only:
            self._add_partitions(result, known)
            return
        self._retire_partitions(result, partitions)
        current = _table_input(existing)
        merged = _merged(current, wanted)
        if _shape(merged) != _shape(current) or DEPRECATED_PARAMETER in current.parameters:
            if self._policy.update_behavior == "LOG":
                self._warn(
                    result.location, f"table {result.name}: schema changed, not updated (LOG)"
                )
            else:
                self._catalog.update_table(
                    self._database, merged, version_id=existing.version_id or ""
                )
                self.outcome.tables_updated.append(result.name)
        self._add_partitions(result, known)

    def _partitions(self, result: TableResult) -> list[types_pb2.Partition]:
        return list(
            self._catalog.get_partitions(self._database, result.name, exclude_column_schema=True)
        )

    def _retire_partitions(
        self, result: TableResult, partitions: Sequence[types_pb2.Partition]
    ) -> None:
        """Partitions of the table whose folder holds no file any more (the target listed
        completely): DeleteBehavior. DELETE_FROM_DATABASE deletes them; DEPRECATE_IN_DATABASE
        (which marks tables, not partitions, as Glue does) and LOG keep them, with a warning."""
        if result.present is None:
            return
        found = {tuple(p.values) for p in result.partitions}
        gone = [
            p
            for p in partitions
            if tuple(p.values) not in found
            and not _holds_data(p.storage_descriptor.location, result.present)
        ]
        if not gone:
            return
        behavior = self._policy.delete_behavior
        if behavior != "DELETE_FROM_DATABASE":
            for p in gone:
                self._warn(
                    p.storage_descriptor.location or result.location,
                    f"table {result.name}: partition {list(p.values)} has no data any more "
                    f"({behavior or 'DEPRECATE_IN_DATABASE'}: kept)",
                )
            return
        response = self._catalog.batch_delete_partition(
            self._database, result.name, [list(p.values) for p in gone]
        )
        for error in response.errors:
            self._warn(
                result.location,
                f"partition {list(error.partition_values)}: {error.error_detail.error_message}",
            )
        self.outcome.partitions_deleted += len(gone) - len(response.errors)

    def _add_partitions(self, result: TableResult, known: set[tuple[str, ...]]) -> None:
        new = [p for p in result.partitions if tuple(p.values) not in known]
        if not new:
            return
        response = self._catalog.batch_create_partition(
            self._database, result.name, [_partition_input(result, p) for p in new]
        )
        for error in response.errors:
            if error.error_detail.error_code != "AlreadyExistsException":
                self._warn(
                    result.location,
                    f"partition {list(error.partition_values)}: {error.error_detail.error_message}",
                )
        self.outcome.partitions_created += len(new) - len(response.errors)

    def retire(self, kept: Sequence[str], under: Sequence[str]) -> None:
        """Tables this crawler made under the fully listed locations `under` that the crawl
        did not find again: DeleteBehavior."""
        if not under:
            return
        gone = []
        try:
            tables = list(self._catalog.get_tables(self._database))
        except EntityNotFound:
            return
        for table in tables:
            if table.parameters.get(CRAWLER_PARAMETER) != self._crawler or table.name in kept:
                continue
            location = table.storage_descriptor.location
            if any(
                location.startswith(prefix.rstrip("/") + "/") or location == prefix
                for prefix in under
            ):
                gone.append(table)
        for table in gone:
            behavior = self._policy.delete_behavior
            where = table.storage_descriptor.location
            if behavior == "DELETE_FROM_DATABASE":
                self._catalog.delete_table(self._database, table.name)
                self.outcome.tables_deleted.append(table.name)
            elif behavior == "LOG":
                self._warn(where, f"table {table.name}: its data is gone (LOG: kept)")
            elif DEPRECATED_PARAMETER not in table.parameters:
                value = _table_input(table)
                value.parameters[DEPRECATED_PARAMETER] = "1"
                self._catalog.update_table(self._database, value, version_id=table.version_id)
                self.outcome.tables_updated.append(table.name)
                self._warn(where, f"table {table.name}: its data is gone, marked deprecated")


def _holds_data(location: str, present: Sequence[str]) -> bool:
    """Whether a folder of present (URIs of folders holding files) is location or under it;
    True for an empty location (nothing to judge by)."""
    if not location:
        return True
    prefix = location.rstrip("/") + "/"
    return any(folder == location.rstrip("/") or folder.startswith(prefix) for folder in present)


def _merged(current: types_pb2.TableInput, wanted: types_pb2.TableInput) -> types_pb2.TableInput:
    """wanted, keeping what a user set on the table that the crawler does not infer
    (description, owner, retention, their own parameters)."""
    out = types_pb2.TableInput()
    out.CopyFrom(wanted)
    out.description = current.description
    out.owner = current.owner
    out.retention = current.retention
    for key, value in current.parameters.items():
        if key not in out.parameters and key != DEPRECATED_PARAMETER:
            out.parameters[key] = value
    return out


def _as_table_input(result: TableResult, crawler: str) -> types_pb2.TableInput:
    value = to_message(result.table_input(), types_pb2.TableInput)
    value.parameters[CRAWLER_PARAMETER] = crawler
    return value


def _partition_input(result: TableResult, partition: Any) -> types_pb2.PartitionInput:
    return to_message(result.partition_input(partition), types_pb2.PartitionInput)
