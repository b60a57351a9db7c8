"""Every RPC of every Sluice service has an action and a resource; request parameters never
carry secrets."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from google.protobuf.descriptor import MethodDescriptor

import sluice
from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.common.errors import InvalidInput
from sluice.control_plane.security.actions import SERVICES, Operation, operation
from sluice.control_plane.security.parameters import REDACTED, request_parameters
from sluice.iam.v1 import iam_pb2
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


def _op(method: MethodDescriptor) -> Operation:
    return operation(f"/{method.containing_service.full_name}/{method.name}")


def test_names_are_normalised_as_the_store_normalises_them() -> None:
    get_table = operation("/sluice.catalog.v1.CatalogService/GetTable")
    request = catalog_pb2.GetTableRequest(database_name="Sales", name="ORDERS")
    assert get_table.resource("9", request) == "sluice:catalog:9:table/sales/orders"
    update = operation("/sluice.catalog.v1.CatalogService/UpdateTable")
    request_u = catalog_pb2.UpdateTableRequest(
        database_name="SALES", table_input=types_pb2.TableInput(name="Orders")
    )
    assert update.resource("9", request_u) == "sluice:catalog:9:table/sales/orders"
    udf = operation("/sluice.catalog.v1.CatalogService/GetUserDefinedFunction")
    request_f = catalog_pb2.GetUserDefinedFunctionRequest(database_name="S", function_name="F")
    assert udf.resource("9", request_f) == "sluice:catalog:9:userDefinedFunction/s/f"
    # Job names are case-sensitive in the store, so they are in policies too.
    get_job = operation("/sluice.jobs.v1.JobService/GetJob")
    assert get_job.resource("9", jobs_pb2.GetJobRequest(job_name="ETL")) == "sluice:jobs:9:job/ETL"
    get_principal = operation("/sluice.iam.v1.IamService/GetPrincipal")
    assert get_principal.resource("9", iam_pb2.GetPrincipalRequest(name="Bob")) == (
        "sluice:iam:9:principal/bob"
    )
    # A name the store would refuse is refused before any policy is asked about it.
    with pytest.raises(InvalidInput):
        get_table.resource("9", catalog_pb2.GetTableRequest(database_name="s", name="a*"))


@pytest.mark.parametrize("method", sluice_methods(), ids=lambda m: m.full_name)
def test_calls_on_many_resources_authorise_each(method: MethodDescriptor) -> None:
    """A call whose resource has a `*` part acts on many resources: its items are described,
    and the description names fields the messages have."""
    op = _op(method)
    if "*" not in op.fields:
        assert op.batch is None and op.listing is None
        return
    assert (op.batch is None) != (op.listing is None)
    if op.batch is not None:
        assert op.batch.field in method.input_type.fields_by_name
        errors = method.output_type.fields_by_name[op.batch.errors].message_type
        assert "error_detail" in errors.fields_by_name
        assert {name for name, _ in op.batch.error_fields} <= set(errors.fields_by_name)
    else:
        assert op.listing is not None
        items = method.output_type.fields_by_name[op.listing.field]
        assert items.is_repeated
        for alternatives in op.listing.parts:
            for path in alternatives.split("|"):
                if path.startswith("item."):
                    first = path[len("item.") :].split(".")[0]
                    assert first in items.message_type.fields_by_name


def test_a_batch_keeps_the_allowed_items_and_reports_the_denied() -> None:
    op = operation("/sluice.catalog.v1.CatalogService/BatchDeleteTable")
    request = catalog_pb2.BatchDeleteTableRequest(
        database_name="Sales", tables_to_delete=["ORDERS", "customers", "bad name"]
    )
    assert op.resource("9", request) == "sluice:catalog:9:table/sales/*"
    denied = op.take_denied("9", request, lambda resource: not resource.endswith("/orders"))
    assert denied == [("ORDERS", "sluice:catalog:9:table/sales/orders")]
    # An invalid name stays for the store to report, as it reports any invalid item.
    assert list(request.tables_to_delete) == ["customers", "bad name"]
    assert op.batch_size(request) == 2
    response = catalog_pb2.BatchDeleteTableResponse()
    op.report_denied(request, response, denied, "carol")
    (error,) = response.errors
    assert error.table_name == "ORDERS"
    assert error.error_detail.error_code == "AccessDeniedException"
    assert error.error_detail.error_message == (
        "carol is not authorized to perform glue:BatchDeleteTable on "
        "sluice:catalog:9:table/sales/orders"
    )

    stop = operation("/sluice.jobs.v1.JobService/BatchStopJobRun")
    runs = jobs_pb2.BatchStopJobRunRequest(job_name="etl", job_run_ids=["jr_1", "jr_2"])
    denied = stop.take_denied("9", runs, lambda resource: resource.endswith("/jr_2"))
    assert denied == [("jr_1", "sluice:jobs:9:jobrun/etl/jr_1")]
    stopped = jobs_pb2.BatchStopJobRunResponse()
    stop.report_denied(runs, stopped, denied, "carol")
    assert [(e.job_name, e.job_run_id) for e in stopped.errors] == [("etl", "jr_1")]


def test_a_listing_keeps_only_what_the_caller_may_see() -> None:
    op = operation("/sluice.catalog.v1.CatalogService/GetTables")
    response = catalog_pb2.GetTablesResponse(
        table_list=[
            types_pb2.Table(database_name="sales", name="orders"),
            types_pb2.Table(database_name="sales", name="customers"),
        ],
        next_token="more",
    )
    seen: list[str] = []

    def allowed(resource: str) -> bool:
        seen.append(resource)
        return resource.endswith("customers")

    request = catalog_pb2.GetTablesRequest(database_name="sales")
    op.keep_visible("9", request, response, allowed)
    assert seen == ["sluice:catalog:9:table/sales/orders", "sluice:catalog:9:table/sales/customers"]
    assert [t.name for t in response.table_list] == ["customers"]
    assert response.next_token == "more"
    names = jobs_pb2.ListJobsResponse(job_names=["a", "B"])
    listing = operation("/sluice.jobs.v1.JobService/ListJobs")
    listing.keep_visible("9", jobs_pb2.ListJobsRequest(), names, lambda r: r.endswith("/B"))
    assert list(names.job_names) == ["B"]
