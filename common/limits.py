"""Glue's documented per-call limits, in one table.

The numbers are the `max` of the request members in botocore's Glue service model
(service-2.json): for example BatchCreatePartitionRequest.PartitionInputList is at most 100 and
GetTablesRequest.MaxResults (CatalogGetterPageSize) at most 100. A request beyond them fails
with InvalidInputException, as in Glue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sluice.common.errors import InvalidInput

# Glue's PageSize, the largest page any list call serves.
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class CallLimits:
    """The limits of one call.

    Attributes:
        max_results: The largest MaxResults the call accepts.
        max_items: The most items a batch call takes (None for a call that is not a batch).
        items: What a batch's items are, for the error message.
    """

    max_results: int = MAX_PAGE_SIZE
    max_items: int | None = None
    items: str = "items"


CALL_LIMITS: Mapping[str, CallLimits] = {
    # List calls whose MaxResults is CatalogGetterPageSize (1..100).
    "GetDatabases": CallLimits(max_results=100),
    "GetTables": CallLimits(max_results=100),
    "GetTableVersions": CallLimits(max_results=100),
    "GetUserDefinedFunctions": CallLimits(max_results=100),
    # OrchestrationPageSize200.
    "GetJobRuns": CallLimits(max_results=200),
    # OrchestrationPageSize25.
    "ListWorkflows": CallLimits(max_results=25),
    # PageSize (1..1000).
    "GetPartitions": CallLimits(),
    "SearchTables": CallLimits(),
    "GetConnections": CallLimits(),
    "GetJobs": CallLimits(),
    "ListJobs": CallLimits(),
    # Batch calls.
    "BatchCreatePartition": CallLimits(max_items=100, items="partitions"),
    "BatchUpdatePartition": CallLimits(max_items=100, items="partitions"),
    "BatchDeletePartition": CallLimits(max_items=25, items="partitions"),
    "BatchGetPartition": CallLimits(max_items=1000, items="partitions"),
    "BatchDeleteTable": CallLimits(max_items=100, items="tables"),
    "BatchStopJobRun": CallLimits(max_items=25, items="job runs"),
    "BatchGetWorkflows": CallLimits(max_items=25, items="workflows"),
}


def limits_of(call: str) -> CallLimits:
    """The limits of a call, by its Glue operation name; Glue's defaults for calls not listed."""
    return CALL_LIMITS.get(call, CallLimits())


def max_results_of(call: str) -> int:
    """The largest MaxResults `call` accepts."""
    return limits_of(call).max_results


def max_items_of(call: str) -> int:
    """The most items the batch call `call` takes.

    Raises:
        KeyError: `call` is not a batch call of the table.
    """
    found = limits_of(call).max_items
    if found is None:
        raise KeyError(f"{call} is not a batch call with a documented limit")
    return found


def check_batch(call: str, count: int) -> None:
    """Checks the number of items of a batch call against Glue's limit.

    Raises:
        InvalidInput: there are more items than the call takes.
    """
    limits = limits_of(call)
    if limits.max_items is not None and count > limits.max_items:
        raise InvalidInput(f"{call} takes at most {limits.max_items} {limits.items}, got {count}")
