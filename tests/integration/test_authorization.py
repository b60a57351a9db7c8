"""Authorisation through a real server: policies hold on the names the store acts on, batch
calls are authorised item by item, and listings show only what the caller may see.

In a fresh account, the admin `owner` makes the resources and `carol` (role analyst) may do
everything except what her policy denies: the table sales.orders, the database secret (and its
tables), the database private (whose tables that Deny alone covers, as the database's ARN does
in Glue), the job hidden and one run id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.audit.v1 import types_pb2 as audit_types
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from tests.integration.conftest import ServerProcess, authed_channel

pytestmark = pytest.mark.integration

DENIED_RUN = "jr_" + "d" * 64
OTHER_RUN = "jr_" + "e" * 64
DENIED = [
    "table/sales/orders",
    "database/secret",
    "table/secret/*",
    "database/private",
    "job/hidden",
    f"jobrun/visible/{DENIED_RUN}",
]


@dataclass
class Account:
    id: str
    owner: grpc.Channel
    carol: grpc.Channel

    def catalog(self, channel: grpc.Channel) -> catalog_pb2_grpc.CatalogServiceStub:
        return catalog_pb2_grpc.CatalogServiceStub(channel)

    def jobs(self, channel: grpc.Channel) -> jobs_pb2_grpc.JobServiceStub:
        return jobs_pb2_grpc.JobServiceStub(channel)


@pytest.fixture
def account(server: ServerProcess) -> Iterator[Account]:
    account_id = str(uuid.uuid4().int)[:12]
    with authed_channel(server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        tokens = {}
        for name, roles in (("owner", ["admin"]), ("carol", ["analyst"])):
            iam.CreatePrincipal(
                iam_pb2.CreatePrincipalRequest(account=account_id, name=name, roles=roles)
            )
            tokens[name] = iam.CreateToken(
                iam_pb2.CreateTokenRequest(account=account_id, principal_name=name)
            ).token
        iam.PutPolicy(
            iam_pb2.PutPolicyRequest(
                account=account_id,
                name="analysts",
                roles=["analyst"],
                statements=[
                    {"effect": "EFFECT_ALLOW", "actions": ["*"], "resources": ["*"]},
                    {"effect": "EFFECT_DENY", "actions": ["*"], "resources": DENIED},
                ],
            )
        )
    with (
        authed_channel(server.address, tokens["owner"]) as owner,
        authed_channel(server.address, tokens["carol"]) as carol,
    ):
        made = Account(account_id, owner, carol)
        _populate(made)
        yield made


def _populate(account: Account) -> None:
    catalog = account.catalog(account.owner)
    for database, tables in (
        ("sales", ["orders", "customers", "items"]),
        ("secret", ["s"]),
        ("private", ["p"]),
    ):
        catalog.CreateDatabase(catalog_pb2.CreateDatabaseRequest(database_input={"name": database}))
        for table in tables:
            catalog.CreateTable(
                catalog_pb2.CreateTableRequest(database_name=database, table_input={"name": table})
            )
    catalog.CreateDatabase(catalog_pb2.CreateDatabaseRequest(database_input={"name": "public"}))
    jobs = account.jobs(account.owner)
    location = jobs.UploadScript(
        jobs_pb2.UploadScriptRequest(name="s.py", content=b"print(1)\n")
    ).script_location
    for name in ("visible", "hidden", "other"):
        jobs.CreateJob(
            jobs_pb2.CreateJobRequest(
                name=name, role="etl", command={"name": "glueetl", "script_location": location}
            )
        )


def _refused(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_a_deny_holds_whatever_the_case_of_the_name(account: Account) -> None:
    carol = account.catalog(account.carol)
    for database, name in (("sales", "ORDERS"), ("SALES", "Orders"), ("sales", "orders")):
        request = catalog_pb2.GetTableRequest(database_name=database, name=name)
        refused = _refused(lambda request=request: carol.GetTable(request))
        assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "table/sales/orders" in refused.details()
    deleting = catalog_pb2.DeleteTableRequest(database_name="sales", name="Orders")
    assert _refused(lambda: carol.DeleteTable(deleting)).code() is grpc.StatusCode.PERMISSION_DENIED
    dropping = catalog_pb2.DeleteDatabaseRequest(name="SECRET")
    assert _refused(lambda: carol.DeleteDatabase(dropping)).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    owner = account.catalog(account.owner)
    assert owner.GetTable(catalog_pb2.GetTableRequest(database_name="sales", name="orders")).table
    assert owner.GetDatabase(catalog_pb2.GetDatabaseRequest(name="secret")).database
    # What is not denied is allowed, whatever its case.
    shown = carol.GetTable(catalog_pb2.GetTableRequest(database_name="Sales", name="CUSTOMERS"))
    assert shown.table.name == "customers"
    hidden = jobs_pb2.GetJobRequest(job_name="hidden")
    assert _refused(lambda: account.jobs(account.carol).GetJob(hidden)).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )


def test_the_audit_record_names_the_normalised_resource(
    server: ServerProcess, account: Account
) -> None:
    request = catalog_pb2.GetTableRequest(database_name="Sales", name="ORDERS")
    _refused(lambda: account.catalog(account.carol).GetTable(request))
    wanted = f"sluice:catalog:{account.id}:table/sales/orders"
    audit = audit_pb2_grpc.AuditServiceStub(account.owner)
    deadline = time.monotonic() + 10
    while True:
        events = audit.QueryAuditEvents(
            audit_pb2.QueryAuditEventsRequest(
                action="glue:GetTable", outcome=audit_types.AUDIT_OUTCOME_DENIED
            )
        ).events
        if events:
            break
        assert time.monotonic() < deadline, "the refused call was not recorded"
        time.sleep(0.1)
    assert [e.resource for e in events] == [wanted]


def test_a_batch_goes_ahead_with_the_allowed_items_and_reports_the_denied(
    account: Account,
) -> None:
    carol = account.catalog(account.carol)
    response = carol.BatchDeleteTable(
        catalog_pb2.BatchDeleteTableRequest(
            database_name="Sales", tables_to_delete=["ORDERS", "Customers", "ghost"]
        )
    )
    errors = {e.table_name: e.error_detail for e in response.errors}
    assert set(errors) == {"ORDERS", "ghost"}
    assert errors["ORDERS"].error_code == "AccessDeniedException"
    assert "table/sales/orders" in errors["ORDERS"].error_message
    assert errors["ghost"].error_code == "EntityNotFoundException"
    listed = account.catalog(account.owner).GetTables(
        catalog_pb2.GetTablesRequest(database_name="sales")
    )
    assert sorted(t.name for t in listed.table_list) == ["items", "orders"]
    # Every item denied: the response is only their errors; nothing is deleted.
    alone = carol.BatchDeleteTable(
        catalog_pb2.BatchDeleteTableRequest(database_name="sales", tables_to_delete=["orders"])
    )
    assert [(e.table_name, e.error_detail.error_code) for e in alone.errors] == [
        ("orders", "AccessDeniedException")
    ]
    # A batch over Glue's limit is refused whole, not cut down to it by its denied items.
    too_many = catalog_pb2.BatchDeleteTableRequest(
        database_name="sales", tables_to_delete=["orders"] + [f"t{i}" for i in range(100)]
    )
    assert _refused(lambda: carol.BatchDeleteTable(too_many)).code() is (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    # The call on the container itself stays refused when denied.
    whole = catalog_pb2.BatchDeleteTableRequest(database_name="secret", tables_to_delete=["s"])
    assert _refused(lambda: carol.BatchDeleteTable(whole)).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )

    stopped = account.jobs(account.carol).BatchStopJobRun(
        jobs_pb2.BatchStopJobRunRequest(job_name="visible", job_run_ids=[DENIED_RUN, OTHER_RUN])
    )
    codes = {e.job_run_id: e.error_detail.error_code for e in stopped.errors}
    assert codes == {DENIED_RUN: "AccessDeniedException", OTHER_RUN: "EntityNotFoundException"}
    assert {e.job_name for e in stopped.errors} == {"visible"}


def test_listings_show_only_what_the_caller_may_see(account: Account) -> None:
    carol = account.catalog(account.carol)
    databases = carol.GetDatabases(catalog_pb2.GetDatabasesRequest()).database_list
    assert sorted(d.name for d in databases) == ["public", "sales"]
    tables = carol.GetTables(catalog_pb2.GetTablesRequest(database_name="sales")).table_list
    assert sorted(t.name for t in tables) == ["customers", "items"]
    found = carol.SearchTables(catalog_pb2.SearchTablesRequest()).table_list
    assert sorted((t.database_name, t.name) for t in found) == [
        ("sales", "customers"),
        ("sales", "items"),
    ]
    # Page by page: pages may come out short, but every visible item comes, and no other.
    paged: list[str] = []
    token = ""
    while True:
        page = carol.GetTables(
            catalog_pb2.GetTablesRequest(database_name="sales", max_results=1, next_token=token)
        )
        paged.extend(t.name for t in page.table_list)
        token = page.next_token
        if not token:
            break
    assert sorted(paged) == ["customers", "items"]
    jobs = account.jobs(account.carol)
    assert sorted(j.name for j in jobs.GetJobs(jobs_pb2.GetJobsRequest()).jobs) == [
        "other",
        "visible",
    ]
    assert sorted(jobs.ListJobs(jobs_pb2.ListJobsRequest()).job_names) == ["other", "visible"]
    # The admin sees everything.
    owner = account.catalog(account.owner)
    assert len(owner.GetDatabases(catalog_pb2.GetDatabasesRequest()).database_list) == 4


def test_a_deny_on_a_database_holds_for_its_tables(account: Account) -> None:
    carol = account.catalog(account.carol)
    owner = account.catalog(account.owner)
    refused = _refused(
        lambda: carol.GetTable(catalog_pb2.GetTableRequest(database_name="private", name="p"))
    )
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    refused = _refused(
        lambda: carol.DeleteTable(catalog_pb2.DeleteTableRequest(database_name="PRIVATE", name="P"))
    )
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    assert owner.GetTable(catalog_pb2.GetTableRequest(database_name="private", name="p"))
    found = carol.SearchTables(catalog_pb2.SearchTablesRequest()).table_list
    assert "private" not in {t.database_name for t in found}
    assert {t.database_name for t in found} >= {"sales"}
