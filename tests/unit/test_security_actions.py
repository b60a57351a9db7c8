"""Every RPC of every Sluice service has an action and a resource; request parameters never
carry secrets."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from google.protobuf.descriptor import MethodDescriptor

import sluice
from control_plane.security.actions import SERVICES, operation
from control_plane.security.parameters import REDACTED, request_parameters
from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.jobs.v1 import jobs_pb2

pytestmark = pytest.mark.unit


def sluice_methods() -> list[MethodDescriptor]:
    """Every method of every service generated under sluice/ (found, not listed)."""
    methods = []
    for module in pkgutil.walk_packages(sluice.__path__, "sluice."):
        if not module.name.endswith("_pb2"):
            continue
        descriptor = importlib.import_module(module.name).DESCRIPTOR
        for service in descriptor.services_by_name.values():
            methods.extend(service.methods)
    return methods


def test_every_service_is_known() -> None:
    services = {method.containing_service.full_name for method in sluice_methods()}
    assert services <= set(SERVICES)
    assert {"sluice.catalog.v1.CatalogService", "sluice.jobs.v1.JobService"} <= services


@pytest.mark.parametrize("method", sluice_methods(), ids=lambda m: m.full_name)
def test_every_rpc_has_an_operation(method: MethodDescriptor) -> None:
    op = operation(f"/{method.containing_service.full_name}/{method.name}")
    assert op.action.endswith(":" + method.name)
    if method.name.startswith(("Create", "Update", "Delete", "Put", "Start", "Revoke", "Upload")):
        assert not op.read_only
    if method.name.startswith(("Get", "List", "Search", "Query", "Follow", "Tail")):
        assert op.read_only


def test_resources_name_what_the_call_acts_on() -> None:
    get_table = operation("/sluice.catalog.v1.CatalogService/GetTable")
    request = catalog_pb2.GetTableRequest(database_name="sales", name="orders")
    assert get_table.resource("123", request) == "sluice:catalog:123:table/sales/orders"
    create = operation("/sluice.catalog.v1.CatalogService/CreateTable")
    request_c = catalog_pb2.CreateTableRequest(
        database_name="sales", table_input=types_pb2.TableInput(name="t")
    )
    assert create.resource("9", request_c) == "sluice:catalog:9:table/sales/t"
    listing = operation("/sluice.catalog.v1.CatalogService/GetDatabases")
    assert listing.resource("9", catalog_pb2.GetDatabasesRequest()) == (
        "sluice:catalog:9:database/*"
    )
    run = operation("/sluice.jobs.v1.JobService/GetJobRun")
    assert run.resource("9", jobs_pb2.GetJobRunRequest(job_name="d", run_id="jr_1")) == (
        "sluice:jobs:9:jobrun/d/jr_1"
    )
    assert (
        operation("/sluice.jobs.v1.JobService/GetPoolStatus").resource(
            "9", jobs_pb2.GetPoolStatusRequest()
        )
        == "sluice:jobs:9:pool"
    )


def test_unknown_methods_are_refused() -> None:
    with pytest.raises(KeyError):
        operation("/sluice.catalog.v1.CatalogService/DropEverything")
    with pytest.raises(KeyError):
        operation("/other.Service/Get")


def test_parameters_keep_names_and_drop_secrets() -> None:
    request = catalog_pb2.CreateConnectionRequest(
        catalog_id="1",
        connection_input=types_pb2.ConnectionInput(
            name="pg", connection_properties={"PASSWORD": "hunter2", "USERNAME": "u"}
        ),
    )
    kept = request_parameters(request)
    assert kept == {"catalog_id": "1", "connection_input": {"name": "pg"}}
    assert "hunter2" not in repr(kept)

    run = jobs_pb2.StartJobRunRequest(
        job_name="etl", arguments={"--db_password": "hunter2", "--day": "2024-01-01"}
    )
    kept = request_parameters(run)
    assert kept["arguments"] == {"--day": "2024-01-01", "--db_password": REDACTED}
    upload = request_parameters(jobs_pb2.UploadScriptRequest(name="a.py", content=b"x" * 10))
    assert upload == {"name": "a.py", "content": {"bytes": 10}}
