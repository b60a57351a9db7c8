"""Glue's per-call limits: one table, applied to every list and batch call."""

from __future__ import annotations

import pytest

from sluice.catalog.v1 import catalog_pb2
from sluice.common.errors import InvalidInput
from sluice.common.limits import check_batch, max_items_of, max_results_of
from sluice.control_plane.convert.common import page_request
from sluice.control_plane.convert.jobs import page_request as jobs_page_request
from sluice.jobs.v1 import jobs_pb2

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("request_", "most"),
    [
        (catalog_pb2.GetTablesRequest(), 100),
        (catalog_pb2.GetDatabasesRequest(), 100),
        (catalog_pb2.GetTableVersionsRequest(), 100),
        (catalog_pb2.GetUserDefinedFunctionsRequest(), 100),
        (catalog_pb2.GetPartitionsRequest(), 1000),
        (catalog_pb2.SearchTablesRequest(), 1000),
        (catalog_pb2.GetConnectionsRequest(), 1000),
    ],
)
def test_catalog_list_calls_take_glues_max_results(request_: object, most: int) -> None:
    request_.max_results = most  # type: ignore[attr-defined]
    assert page_request(request_).limit() == most  # type: ignore[arg-type]
    request_.max_results = most + 1  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match=f"between 1 and {most}"):
        page_request(request_).limit()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "most"),
    [
        (jobs_pb2.GetJobRunsRequest(job_name="j"), 200),
        (jobs_pb2.GetJobsRequest(), 1000),
        (jobs_pb2.ListJobsRequest(), 1000),
    ],
)
def test_jobs_list_calls_take_glues_max_results(request_: object, most: int) -> None:
    request_.max_results = most  # type: ignore[attr-defined]
    assert jobs_page_request(request_).limit() == most  # type: ignore[arg-type]
    request_.max_results = most + 1  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match=f"between 1 and {most}"):
        jobs_page_request(request_).limit()  # type: ignore[arg-type]


def test_the_default_page_never_exceeds_a_calls_limit() -> None:
    assert page_request(catalog_pb2.GetTablesRequest()).limit() == 100
    assert max_results_of("GetJobRuns") == 200


@pytest.mark.parametrize(
    ("call", "most"),
    [
        ("BatchCreatePartition", 100),
        ("BatchUpdatePartition", 100),
        ("BatchDeletePartition", 25),
        ("BatchGetPartition", 1000),
        ("BatchDeleteTable", 100),
        ("BatchStopJobRun", 25),
    ],
)
def test_batch_limits(call: str, most: int) -> None:
    assert max_items_of(call) == most
    check_batch(call, most)
    with pytest.raises(InvalidInput, match=f"{call} takes at most {most} .*, got {most + 1}"):
        check_batch(call, most + 1)
