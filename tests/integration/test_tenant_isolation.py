"""Tenant isolation over every RPC of every service, generated from the service descriptors:
a new RPC is covered without touching this file.

Bob (account B) owns resources; Alice (account A, admin of A) calls every RPC twice: naming
account B, and naming B's resources in her own account. Neither may return anything of B, say
that B's resources exist (NOT_FOUND, never PERMISSION_DENIED), or change them.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

import sluice
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc, tags_pb2, tags_pb2_grpc
from sluice.control_plane.security.actions import operation
from sluice.crawlers.v1 import crawlers_pb2, crawlers_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import (
    jobs_pb2,
    jobs_pb2_grpc,
    notifications_pb2,
    notifications_pb2_grpc,
    triggers_pb2,
    triggers_pb2_grpc,
    workflows_pb2,
    workflows_pb2_grpc,
)
from tests.integration.conftest import ServerProcess, authed_channel

pytestmark = pytest.mark.integration

MARKER = "b-only-" + uuid.uuid4().hex[:8]
RUN_ID = "jr_" + "0" * 64
# The name a field holds when it names a resource of the given kind.
NAME_BY_KIND = {
    "database": "shared",
    "table": "t",
    "connection": "conn",
    "userDefinedFunction": "f",
    "job": "job",
    "jobrun": "job",
    "script": "s.py",
    "principal": "bob2",
    "token": "bob2",
    "policy": "bpol",
    "trigger": "trig",
    "workflow": "flow",
    "crawler": "crawl",
    "classifier": "cls",
}
FIELD_VALUES: dict[str, Any] = {
    "database_name": "shared",
    "table_name": "t",
    "function_name": "f",
    "connection_name": "conn",
    "job_name": "job",
    "principal_name": "bob2",
    "run_id": RUN_ID,
    "job_run_id": RUN_ID,
    "token_id": "0123456789abcdef",
    "job_run_ids": [RUN_ID],
    "tables_to_delete": ["t"],
    "trigger_names": ["trig"],
    "crawler_name": "crawl",
    "crawler_names": ["crawl"],
    "crawler_name_list": ["crawl"],
    "partition_values": ["2024"],
    "partition_value_list": ["2024"],
}
# RPCs that would create something in Alice's own account: not an isolation question, and a
# run would start Ray in this catalog-only server.
CREATING = ("Create", "Put", "Upload")


def sluice_methods() -> list[MethodDescriptor]:
    methods = []
    for module in pkgutil.walk_packages(sluice.__path__, "sluice."):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(module.name).DESCRIPTOR
            for service in descriptor.services_by_name.values():
                methods.extend(service.methods)
    return methods


@dataclass
class Tenants:
    alice: grpc.Channel
    bob: grpc.Channel
    account_a: str
    account_b: str


def _account() -> str:
    return str(uuid.uuid4().int)[:12]


@pytest.fixture(scope="module")
def tenants(server: ServerProcess) -> Iterator[Tenants]:
    a, b = _account(), _account()
    with authed_channel(server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        tokens = {}
        for name, account in (("alice", a), ("bob", b)):
            iam.CreatePrincipal(
                iam_pb2.CreatePrincipalRequest(account=account, name=name, roles=["admin"])
            )
            tokens[name] = iam.CreateToken(
                iam_pb2.CreateTokenRequest(account=account, principal_name=name)
            ).token
    with (
        authed_channel(server.address, tokens["alice"]) as alice,
        authed_channel(server.address, tokens["bob"]) as bob,
    ):
        _populate(bob, b)
        yield Tenants(alice, bob, a, b)


# Bob's taggable resources, each tagged with MARKER.
TAGGED = (
    ("database", "shared"),
    ("connection", "conn"),
    ("job", "job"),
    ("trigger", "trig"),
    ("crawler", "crawl"),
)


def _arn(account: str, kind: str, name: str) -> str:
    return f"arn:aws:glue:us-east-1:{account}:{kind}/{name}"


def _populate(bob: grpc.Channel, account: str) -> None:
    catalog = catalog_pb2_grpc.CatalogServiceStub(bob)
    catalog.CreateDatabase(
        catalog_pb2.CreateDatabaseRequest(database_input={"name": "shared", "description": MARKER})
    )
    catalog.CreateTable(
        catalog_pb2.CreateTableRequest(
            database_name="shared",
            table_input={
                "name": "t",
                "description": MARKER,
                "partition_keys": [{"name": "year", "type": "string"}],
            },
        )
    )
    catalog.CreatePartition(
        catalog_pb2.CreatePartitionRequest(
            database_name="shared",
            table_name="t",
            partition_input={"values": ["2024"], "parameters": {"m": MARKER}},
        )
    )
    catalog.CreateConnection(
        catalog_pb2.CreateConnectionRequest(
            connection_input={
                "name": "conn",
                "description": MARKER,
                "connection_type": "JDBC",
                "connection_properties": {"PASSWORD": MARKER, "JDBC_CONNECTION_URL": "jdbc:x"},
            }
        )
    )
    catalog.CreateUserDefinedFunction(
        catalog_pb2.CreateUserDefinedFunctionRequest(
            database_name="shared",
            function_input={"function_name": "f", "class_name": MARKER},
        )
    )
    jobs = jobs_pb2_grpc.JobServiceStub(bob)
    location = jobs.UploadScript(
        jobs_pb2.UploadScriptRequest(name="s.py", content=MARKER.encode())
    ).script_location
    jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            name="job",
            description=MARKER,
            role="bob-role",
            command={"name": "glueetl", "script_location": location},
        )
    )
    triggers = triggers_pb2_grpc.TriggerServiceStub(bob)
    triggers.CreateTrigger(
        triggers_pb2.CreateTriggerRequest(
            name="trig",
            description=MARKER,
            type=triggers_pb2.TRIGGER_TYPE_SCHEDULED,
            schedule="cron(0 0 1 1 ? *)",
            actions=[{"job_name": "job", "arguments": {"--m": MARKER}}],
        )
    )
    workflows = workflows_pb2_grpc.WorkflowServiceStub(bob)
    workflows.CreateWorkflow(
        workflows_pb2.CreateWorkflowRequest(
            name="flow", description=MARKER, default_run_properties={"m": MARKER}
        )
    )
    triggers.CreateTrigger(
        triggers_pb2.CreateTriggerRequest(
            name="flow-start",
            workflow_name="flow",
            description=MARKER,
            type=triggers_pb2.TRIGGER_TYPE_ON_DEMAND,
            actions=[{"job_name": "job", "arguments": {"--m": MARKER}}],
        )
    )
    crawlers = crawlers_pb2_grpc.CrawlerServiceStub(bob)
    crawlers.CreateCrawler(
        crawlers_pb2.CreateCrawlerRequest(
            name="crawl",
            description=MARKER,
            role="bob-role",
            database_name="shared",
            schedule="cron(0 0 1 1 ? *)",
            targets={"s3_targets": [{"path": f"s3://nowhere/{MARKER}"}]},
        )
    )
    crawlers.CreateClassifier(
        crawlers_pb2.CreateClassifierRequest(
            csv_classifier={"name": "cls", "delimiter": ";", "header": [MARKER]}
        )
    )
    notifications_pb2_grpc.NotificationServiceStub(bob).PutWebhook(
        notifications_pb2.PutWebhookRequest(url=f"https://8.8.8.8/{MARKER}", secret=MARKER * 2)
    )
    tags = tags_pb2_grpc.TagServiceStub(bob)
    for kind, name in TAGGED:
        tags.TagResource(
            tags_pb2.TagResourceRequest(
                resource_arn=_arn(account, kind, name), tags_to_add={"m": MARKER}
            )
        )
    iam = iam_pb2_grpc.IamServiceStub(bob)
    iam.CreatePrincipal(iam_pb2.CreatePrincipalRequest(name="bob2", description=MARKER))
    iam.PutPolicy(
        iam_pb2.PutPolicyRequest(
            name="bpol",
            description=MARKER,
            roles=["bob-role"],
            statements=[{"effect": "EFFECT_ALLOW", "actions": ["*"], "resources": ["*"]}],
        )
    )


def _request(method: MethodDescriptor, account: str | None) -> Message:
    """A request of method naming B's resources, in account (None: the caller's own)."""
    request = GetMessageClass(method.input_type)()
    kind = operation(f"/{method.containing_service.full_name}/{method.name}").kind
    for field in method.input_type.fields:
        if field.name in ("catalog_id", "account"):
            if account is not None:
                setattr(request, field.name, account)
        elif field.name in FIELD_VALUES:
            value = FIELD_VALUES[field.name]
            if field.is_repeated:
                getattr(request, field.name).extend(value)
            else:
                setattr(request, field.name, value)
        elif field.name == "name" and field.type == FieldDescriptor.TYPE_STRING:
            request.name = NAME_BY_KIND.get(kind, "shared")  # type: ignore[attr-defined]
        elif field.type == FieldDescriptor.TYPE_MESSAGE and not field.is_repeated:
            nested = field.message_type.fields_by_name
            for name in ("name", "function_name"):
                if name in nested and nested[name].type == FieldDescriptor.TYPE_STRING:
                    setattr(getattr(request, field.name), name, NAME_BY_KIND.get(kind, "shared"))
            # A table named by database and table (the CatalogEntry of GetMapping, GetPlan).
            for name in ("database_name", "table_name"):
                if name in nested and nested[name].type == FieldDescriptor.TYPE_STRING:
                    setattr(getattr(request, field.name), name, FIELD_VALUES[name])
    return request


def _call(channel: grpc.Channel, method: MethodDescriptor, request: Message) -> tuple[Any, bytes]:
    """(status code, response bytes) of one call; streams give their first few messages."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    response_class = GetMessageClass(method.output_type)
    try:
        if method.server_streaming:
            stream = channel.unary_stream(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=response_class.FromString,
            )(request, timeout=1.5)
            received = b""
            try:
                for index, message in enumerate(stream):
                    received += message.SerializeToString()
                    if index >= 3:
                        stream.cancel()
                        break
            except grpc.RpcError as exc:
                if exc.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
                    raise
            return grpc.StatusCode.OK, received
        reply = channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_class.FromString,
        )(request, timeout=10)
        return grpc.StatusCode.OK, reply.SerializeToString()
    except grpc.RpcError as exc:
        return exc.code(), (exc.details() or "").encode()


@pytest.mark.parametrize("method", sluice_methods(), ids=lambda m: m.full_name)
def test_another_account_is_not_found(tenants: Tenants, method: MethodDescriptor) -> None:
    if not {"catalog_id", "account"} & set(method.input_type.fields_by_name):
        pytest.skip("the request names no account: it acts in the caller's")
    code, body = _call(tenants.alice, method, _request(method, tenants.account_b))
    assert code is grpc.StatusCode.NOT_FOUND, (code, body)
    assert MARKER.encode() not in body


@pytest.mark.parametrize("method", sluice_methods(), ids=lambda m: m.full_name)
def test_b_names_in_a_reveal_nothing(tenants: Tenants, method: MethodDescriptor) -> None:
    if method.name.startswith(CREATING):
        pytest.skip("creates in the caller's own account")
    code, body = _call(tenants.alice, method, _request(method, None))
    assert code is not grpc.StatusCode.PERMISSION_DENIED, body
    assert code is not grpc.StatusCode.INTERNAL, body
    assert MARKER.encode() not in body
    assert tenants.account_b.encode() not in body


def test_another_accounts_arns_are_not_found(tenants: Tenants) -> None:
    # Tag calls name their resource by ARN, not by account: B's ARNs are NOT_FOUND for Alice.
    service = tags_pb2.DESCRIPTOR.services_by_name["TagService"]
    requests = {
        "TagResource": lambda arn: tags_pb2.TagResourceRequest(
            resource_arn=arn, tags_to_add={"m": "alice"}
        ),
        "UntagResource": lambda arn: tags_pb2.UntagResourceRequest(
            resource_arn=arn, tags_to_remove=["m"]
        ),
        "GetTags": lambda arn: tags_pb2.GetTagsRequest(resource_arn=arn),
    }
    assert set(requests) == {m.name for m in service.methods}
    for kind, name in TAGGED:
        for method in service.methods:
            request = requests[method.name](_arn(tenants.account_b, kind, name))
            code, body = _call(tenants.alice, method, request)
            assert code is grpc.StatusCode.NOT_FOUND, (method.name, kind, code, body)
            assert MARKER.encode() not in body
    bob = tags_pb2_grpc.TagServiceStub(tenants.bob)
    for kind, name in TAGGED:
        arn = _arn(tenants.account_b, kind, name)
        assert bob.GetTags(tags_pb2.GetTagsRequest(resource_arn=arn)).tags == {"m": MARKER}


def test_b_is_unchanged_afterwards(tenants: Tenants) -> None:
    # Runs last in this module's order of definition... and holds whenever it runs: nothing
    # Alice did may have touched B.
    for method in sluice_methods():
        if not method.name.startswith(CREATING):
            _call(tenants.alice, method, _request(method, None))
            _call(tenants.alice, method, _request(method, tenants.account_b))
    catalog = catalog_pb2_grpc.CatalogServiceStub(tenants.bob)
    assert (
        catalog.GetDatabase(catalog_pb2.GetDatabaseRequest(name="shared")).database.description
        == MARKER
    )
    assert (
        catalog.GetTable(
            catalog_pb2.GetTableRequest(database_name="shared", name="t")
        ).table.description
        == MARKER
    )
    assert (
        catalog.GetConnection(catalog_pb2.GetConnectionRequest(name="conn")).connection.name
        == "conn"
    )
    jobs = jobs_pb2_grpc.JobServiceStub(tenants.bob)
    assert jobs.GetJob(jobs_pb2.GetJobRequest(job_name="job")).job.description == MARKER
    triggers = triggers_pb2_grpc.TriggerServiceStub(tenants.bob)
    trigger = triggers.GetTrigger(triggers_pb2.GetTriggerRequest(name="trig")).trigger
    assert trigger.description == MARKER
    assert trigger.state == triggers_pb2.TRIGGER_STATE_CREATED
    workflows = workflows_pb2_grpc.WorkflowServiceStub(tenants.bob)
    workflow = workflows.GetWorkflow(
        workflows_pb2.GetWorkflowRequest(name="flow", include_graph=True)
    ).workflow
    assert workflow.description == MARKER
    assert [node.unique_id for node in workflow.graph.nodes] == ["trigger/flow-start", "job/job"]
    assert not workflow.HasField("last_run")
    crawlers = crawlers_pb2_grpc.CrawlerServiceStub(tenants.bob)
    crawler = crawlers.GetCrawler(crawlers_pb2.GetCrawlerRequest(name="crawl")).crawler
    assert crawler.description == MARKER
    assert crawler.state == crawlers_pb2.CRAWLER_STATE_READY
    assert crawler.schedule.state == crawlers_pb2.SCHEDULE_STATE_SCHEDULED
    assert not crawler.HasField("last_crawl")
    classifier = crawlers.GetClassifier(crawlers_pb2.GetClassifierRequest(name="cls")).classifier
    assert (classifier.csv_classifier.delimiter, classifier.csv_classifier.version) == (";", 1)
    iam = iam_pb2_grpc.IamServiceStub(tenants.bob)
    assert iam.GetPrincipal(iam_pb2.GetPrincipalRequest(name="bob2")).principal.name == "bob2"
    assert iam.GetPolicy(iam_pb2.GetPolicyRequest(name="bpol")).policy.name == "bpol"
