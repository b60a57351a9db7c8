"""Partitions of catalog tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.sdk.catalog._base import CatalogBase, SegmentLike, chunks, segment_message
from sluice.sdk.messages import to_message, to_messages, to_value_list, to_values

PartitionInputLike = types_pb2.PartitionInput | Mapping[str, Any]
PartitionValuesLike = types_pb2.PartitionValueList | Mapping[str, Any] | Sequence[str]
UpdateEntryLike = types_pb2.BatchUpdatePartitionRequestEntry | Mapping[str, Any]

# The most partitions one call of each batch kind may carry (Glue's limits, which the server
# enforces); longer batches are split.
MAX_CREATE_BATCH = 100
MAX_GET_BATCH = 1000
MAX_UPDATE_BATCH = 100
MAX_DELETE_BATCH = 25


class PartitionsMixin(CatalogBase):
    """Partition calls of CatalogClient. A partition is named by its values, one per key."""

    def create_partition(
        self,
        database: str,
        table: str,
        partition_input: PartitionInputLike,
        *,
        catalog_id: str | None = None,
    ) -> None:
        """Creates a partition of a table.

        Args:
            database: The database's name.
            table: The table's name.
            partition_input: The partition, e.g. {"values": ["2024", "01"],
                "storage_descriptor": {"location": "s3://bucket/orders/2024/01/"}}.
            catalog_id: The account; the client's default when None.

        Raises:
            EntityNotFound: There is no such database or table.
            AlreadyExists: The table has a partition with these values.
            InvalidInput: The values do not match the table's partition keys.
        """
        request = catalog_pb2.CreatePartitionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            partition_input=to_message(partition_input, types_pb2.PartitionInput),
        )
        self._call(self._stub.CreatePartition, request)

    def batch_create_partition(
        self,
        database: str,
        table: str,
        partition_inputs: Iterable[PartitionInputLike],
        *,
        catalog_id: str | None = None,
    ) -> catalog_pb2.BatchCreatePartitionResponse:
        """Creates any number of partitions, in calls of at most 100.

        Partitions that fail do not stop the others; each is reported with its error.

        Returns:
            The partitions that could not be created, each with its error, in `errors`.
        """
        inputs = to_messages(partition_inputs, types_pb2.PartitionInput, what="partition_inputs")
        merged = catalog_pb2.BatchCreatePartitionResponse()
        for batch in chunks(inputs, MAX_CREATE_BATCH):
            request = catalog_pb2.BatchCreatePartitionRequest(
                catalog_id=self._catalog_id(catalog_id),
                database_name=database,
                table_name=table,
                partition_input_list=batch,
            )
            response: catalog_pb2.BatchCreatePartitionResponse = self._call(
                self._stub.BatchCreatePartition, request
            )
            merged.errors.extend(response.errors)
        return merged

    def get_partition(
        self,
        database: str,
        table: str,
        values: Sequence[str],
        *,
        catalog_id: str | None = None,
    ) -> types_pb2.Partition:
        """The partition of a table with these values, e.g. ["2024", "01"].

        Raises:
            EntityNotFound: There is no such database, table or partition.
        """
        request = catalog_pb2.GetPartitionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            partition_values=to_values(values),
        )
        response: catalog_pb2.GetPartitionResponse = self._call(self._stub.GetPartition, request)
        return response.partition

    def get_partitions(
        self,
        database: str,
        table: str,
        expression: str = "",
        segment: SegmentLike | None = None,
        *,
        page_size: int | None = None,
        exclude_column_schema: bool = False,
        catalog_id: str | None = None,
    ) -> Iterator[types_pb2.Partition]:
        """The partitions of a table, fetching pages as the iteration needs them.

        Args:
            database: The database's name.
            table: The table's name.
            expression: Glue's partition predicate, e.g. "year = '2024' AND month IN
                ('01', '02')"; every partition when empty.
            segment: Only this slice of the list, for parallel scans.
            page_size: Partitions per call (at most 1000); the server's default when None.
            exclude_column_schema: Leave the columns out of each storage descriptor.
            catalog_id: The account; the client's default when None.

        Raises:
            InvalidInput: The expression is malformed (raised when iteration starts).
        """
        request = catalog_pb2.GetPartitionsRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            expression=expression,
            segment=segment_message(segment),
            max_results=page_size or 0,
            exclude_column_schema=exclude_column_schema,
        )
        return self._paginate(self._stub.GetPartitions, request, "partitions")

    def batch_get_partition(
        self,
        database: str,
        table: str,
        partitions: Iterable[PartitionValuesLike],
        *,
        catalog_id: str | None = None,
    ) -> catalog_pb2.BatchGetPartitionResponse:
        """The partitions with the given values, in calls of at most 1000.

        Args:
            database: The database's name.
            table: The table's name.
            partitions: The values of each partition wanted, e.g. [["2024", "01"], ...].
            catalog_id: The account; the client's default when None.

        Returns:
            The partitions found in `partitions`, and the keys the server did not process in
            `unprocessed_keys`. Values that match no partition are in neither.
        """
        keys = [to_value_list(p, what=f"partitions[{i}]") for i, p in enumerate(partitions)]
        merged = catalog_pb2.BatchGetPartitionResponse()
        for batch in chunks(keys, MAX_GET_BATCH):
            request = catalog_pb2.BatchGetPartitionRequest(
                catalog_id=self._catalog_id(catalog_id),
                database_name=database,
                table_name=table,
                partitions_to_get=batch,
            )
            response: catalog_pb2.BatchGetPartitionResponse = self._call(
                self._stub.BatchGetPartition, request
            )
            merged.partitions.extend(response.partitions)
            merged.unprocessed_keys.extend(response.unprocessed_keys)
        return merged

    def update_partition(
        self,
        database: str,
        table: str,
        values: Sequence[str],
        partition_input: PartitionInputLike,
        *,
        catalog_id: str | None = None,
    ) -> None:
        """Replaces the partition with `values` by `partition_input`.

        Raises:
            EntityNotFound: There is no such database, table or partition.
        """
        request = catalog_pb2.UpdatePartitionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            partition_value_list=to_values(values),
            partition_input=to_message(partition_input, types_pb2.PartitionInput),
        )
        self._call(self._stub.UpdatePartition, request)

    def batch_update_partition(
        self,
        database: str,
        table: str,
        entries: Iterable[UpdateEntryLike],
        *,
        catalog_id: str | None = None,
    ) -> catalog_pb2.BatchUpdatePartitionResponse:
        """Updates many partitions, in calls of at most 100.

        Args:
            database: The database's name.
            table: The table's name.
            entries: Each {"partition_value_list": [...], "partition_input": {...}}.
            catalog_id: The account; the client's default when None.

        Returns:
            The entries that failed, each with its error, in `errors`.
        """
        items = to_messages(entries, types_pb2.BatchUpdatePartitionRequestEntry, what="entries")
        merged = catalog_pb2.BatchUpdatePartitionResponse()
        for batch in chunks(items, MAX_UPDATE_BATCH):
            request = catalog_pb2.BatchUpdatePartitionRequest(
                catalog_id=self._catalog_id(catalog_id),
                database_name=database,
                table_name=table,
                entries=batch,
            )
            response: catalog_pb2.BatchUpdatePartitionResponse = self._call(
                self._stub.BatchUpdatePartition, request
            )
            merged.errors.extend(response.errors)
        return merged

    def delete_partition(
        self,
        database: str,
        table: str,
        values: Sequence[str],
        *,
        catalog_id: str | None = None,
    ) -> None:
        """Deletes the partition with `values`.

        Raises:
            EntityNotFound: There is no such database, table or partition.
        """
        request = catalog_pb2.DeletePartitionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            partition_values=to_values(values),
        )
        self._call(self._stub.DeletePartition, request)

    def batch_delete_partition(
        self,
        database: str,
        table: str,
        partitions: Iterable[PartitionValuesLike],
        *,
        catalog_id: str | None = None,
    ) -> catalog_pb2.BatchDeletePartitionResponse:
        """Deletes many partitions, in calls of at most 25.

        Returns:
            The partitions that could not be deleted, each with its error, in `errors`.
        """
        keys = [to_value_list(p, what=f"partitions[{i}]") for i, p in enumerate(partitions)]
        merged = catalog_pb2.BatchDeletePartitionResponse()
        for batch in chunks(keys, MAX_DELETE_BATCH):
            request = catalog_pb2.BatchDeletePartitionRequest(
                catalog_id=self._catalog_id(catalog_id),
                database_name=database,
                table_name=table,
                partitions_to_delete=batch,
            )
            response: catalog_pb2.BatchDeletePartitionResponse = self._call(
                self._stub.BatchDeletePartition, request
            )
            merged.errors.extend(response.errors)
        return merged
