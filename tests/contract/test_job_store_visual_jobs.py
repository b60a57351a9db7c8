"""Job store contract for visual jobs: their CodeGenConfigurationNodes are stored and returned
unchanged (create, update, list), replaced or cleared by UpdateJob, and bounded; SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sluice.common.db import Database
from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.sql_store import SqlJobStore
from tests.contract.test_job_store_support import (
    BACKENDS,
    FakeClock,
    job_input,
    new_account,
    new_store,
    open_database,
)

pytestmark = pytest.mark.contract

NODES = {
    "node-1": {
        "S3CsvSource": {
            "Name": "in",
            "Paths": ["s3://b/in/"],
            "Separator": "comma",
            "QuoteChar": "quote",
            "MaxBand": 5,
            "OutputSchemas": [{"Columns": [{"Name": "é", "Type": "string"}]}],
        }
    },
    "node-2": {
        "S3DirectTarget": {
            "Name": "out",
            "Inputs": ["node-1"],
            "Path": "s3://b/out/",
            "Format": "parquet",
            "PartitionKeys": [],
            "SchemaChangePolicy": {"EnableUpdateCatalog": False},
        }
    },
}


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("jobs")) as db:
        yield db


@pytest.fixture
def store(database: Database) -> SqlJobStore:
    return new_store(database, FakeClock())


def test_nodes_are_kept_and_returned_unchanged(store: SqlJobStore) -> None:
    account = new_account()
    created = store.create_job(account, job_input(code_gen_configuration_nodes=NODES))
    assert created.code_gen_configuration_nodes == NODES
    assert store.get_job(account, "etl").code_gen_configuration_nodes == NODES
    listed = store.get_jobs(account, PageRequest(max_results=10)).items
    assert [j.code_gen_configuration_nodes for j in listed] == [NODES]


def test_update_replaces_or_clears_the_nodes(store: SqlJobStore) -> None:
    account = new_account()
    store.create_job(account, job_input(code_gen_configuration_nodes=NODES))
    fewer = {"node-1": NODES["node-1"]}
    store.update_job(account, job_input(code_gen_configuration_nodes=fewer))
    assert store.get_job(account, "etl").code_gen_configuration_nodes == fewer
    store.update_job(account, job_input())
    assert store.get_job(account, "etl").code_gen_configuration_nodes == {}


def test_a_job_without_nodes_has_none(store: SqlJobStore) -> None:
    account = new_account()
    assert store.create_job(account, job_input()).code_gen_configuration_nodes == {}


def test_nodes_are_bounded(store: SqlJobStore) -> None:
    account = new_account()
    huge = {"n": {"SparkSQL": {"SqlQuery": "x" * checks.MAX_CODE_GEN_NODES_BYTES}}}
    with pytest.raises(InvalidInput, match="CodeGenConfigurationNodes take"):
        store.create_job(account, job_input(code_gen_configuration_nodes=huge))
    with pytest.raises(EntityNotFound):
        store.get_job(account, "etl")
