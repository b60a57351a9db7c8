"""What each RPC does, for authorisation and audit: its action, the resource it acts on, and
whether it only reads. The one place that knows it; a test checks every RPC of every service is
here, so a new RPC cannot slip through unauthorised.

Resources are ARN-like names: `sluice:<service>:<account>:<relative>`, e.g.
`sluice:catalog:123456789012:table/sales/orders`. Policies match them with `*` patterns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from google.protobuf.message import Message

# Alternatives separated by "|": the first non-empty field wins; a missing or empty one is "*".
Template = tuple[str, ...]


@dataclass(frozen=True)
class Operation:
    """An RPC as policies see it.

    Attributes:
        action: `glue:GetTable`, `sluice:GetJobRunLogs`, `iam:CreateToken`, ...
        service: the resource's service part (catalog, jobs, iam, audit).
        kind: the resource type (table, job, ...); "" for the service as a whole.
        fields: request fields naming the resource, in order.
        read_only: whether the RPC changes nothing.
    """

    action: str
    service: str
    kind: str
    fields: Template
    read_only: bool

    def resource(self, account: str, request: Message) -> str:
        """The ARN-like name of what this call acts on."""
        parts = [_field(request, alternatives) for alternatives in self.fields]
        relative = "/".join([self.kind, *parts]) if self.kind else "*"
        return f"sluice:{self.service}:{account}:{relative}"


def _field(request: Message, alternatives: str) -> str:
    for path in alternatives.split("|"):
        value: object = request
        for name in path.split("."):
            value = getattr(value, name, "")
        if isinstance(value, str) and value:
            return value
    return "*"


def _op(action: str, service: str, kind: str, *fields: str, read_only: bool) -> Operation:
    return Operation(action, service, kind, fields, read_only)


def _catalog(method: str, kind: str, *fields: str) -> tuple[str, Operation]:
    read_only = method.startswith(("Get", "Search", "BatchGet"))
    return method, _op(f"glue:{method}", "catalog", kind, *fields, read_only=read_only)


_CATALOG: Mapping[str, Operation] = dict(
    [
        _catalog("CreateDatabase", "database", "database_input.name"),
        _catalog("GetDatabase", "database", "name"),
        _catalog("GetDatabases", "database", "*"),
        _catalog("UpdateDatabase", "database", "name"),
        _catalog("DeleteDatabase", "database", "name"),
        _catalog("CreateTable", "table", "database_name", "table_input.name"),
        _catalog("GetTable", "table", "database_name", "name"),
        _catalog("GetTables", "table", "database_name", "*"),
        _catalog("UpdateTable", "table", "database_name", "table_input.name"),
        _catalog("DeleteTable", "table", "database_name", "name"),
        _catalog("BatchDeleteTable", "table", "database_name", "*"),
        _catalog("SearchTables", "table", "*", "*"),
        _catalog("GetTableVersion", "table", "database_name", "table_name"),
        _catalog("GetTableVersions", "table", "database_name", "table_name"),
        _catalog("DeleteTableVersion", "table", "database_name", "table_name"),
        _catalog("CreatePartition", "table", "database_name", "table_name"),
        _catalog("BatchCreatePartition", "table", "database_name", "table_name"),
        _catalog("GetPartition", "table", "database_name", "table_name"),
        _catalog("GetPartitions", "table", "database_name", "table_name"),
        _catalog("BatchGetPartition", "table", "database_name", "table_name"),
        _catalog("UpdatePartition", "table", "database_name", "table_name"),
        _catalog("BatchUpdatePartition", "table", "database_name", "table_name"),
        _catalog("DeletePartition", "table", "database_name", "table_name"),
        _catalog("BatchDeletePartition", "table", "database_name", "table_name"),
        _catalog("CreateConnection", "connection", "connection_input.name"),
        _catalog("GetConnection", "connection", "name"),
        _catalog("GetConnections", "connection", "*"),
        _catalog("UpdateConnection", "connection", "name"),
        _catalog("DeleteConnection", "connection", "connection_name"),
        _catalog(
            "CreateUserDefinedFunction",
            "userDefinedFunction",
            "database_name",
            "function_input.function_name",
        ),
        _catalog("GetUserDefinedFunction", "userDefinedFunction", "database_name", "function_name"),
        _catalog("GetUserDefinedFunctions", "userDefinedFunction", "database_name", "*"),
        _catalog(
            "UpdateUserDefinedFunction", "userDefinedFunction", "database_name", "function_name"
        ),
        _catalog(
            "DeleteUserDefinedFunction", "userDefinedFunction", "database_name", "function_name"
        ),
    ]
)

_JOBS: Mapping[str, Operation] = {
    "CreateJob": _op("glue:CreateJob", "jobs", "job", "name", read_only=False),
    "GetJob": _op("glue:GetJob", "jobs", "job", "job_name", read_only=True),
    "GetJobs": _op("glue:GetJobs", "jobs", "job", "*", read_only=True),
    "ListJobs": _op("glue:ListJobs", "jobs", "job", "*", read_only=True),
    "UpdateJob": _op("glue:UpdateJob", "jobs", "job", "job_name", read_only=False),
    "DeleteJob": _op("glue:DeleteJob", "jobs", "job", "job_name", read_only=False),
    "UploadScript": _op("sluice:UploadScript", "jobs", "script", "name", read_only=False),
    "StartJobRun": _op("glue:StartJobRun", "jobs", "job", "job_name", read_only=False),
    "GetJobRun": _op("glue:GetJobRun", "jobs", "jobrun", "job_name", "run_id", read_only=True),
    "GetJobRuns": _op("glue:GetJobRuns", "jobs", "jobrun", "job_name", "*", read_only=True),
    "BatchStopJobRun": _op(
        "glue:BatchStopJobRun", "jobs", "jobrun", "job_name", "*", read_only=False
    ),
    "GetJobRunLogs": _op(
        "sluice:GetJobRunLogs", "jobs", "jobrun", "job_name", "run_id", read_only=True
    ),
    "TailJobRunLogs": _op(
        "sluice:TailJobRunLogs", "jobs", "jobrun", "job_name", "run_id", read_only=True
    ),
    "GetPoolStatus": _op("sluice:GetPoolStatus", "jobs", "pool", read_only=True),
}

_IAM_KINDS = {
    "Principal": ("principal", "name|principal_name"),
    "Principals": ("principal", "*"),
    "Token": ("token", "token_id|principal_name|name"),
    "Tokens": ("token", "principal_name|name"),
    "Policy": ("policy", "name|policy_name"),
    "Policies": ("policy", "*"),
}


def _iam(method: str) -> Operation:
    for suffix in sorted(_IAM_KINDS, key=len, reverse=True):
        if method.endswith(suffix):
            kind, fields = _IAM_KINDS[suffix]
            read_only = method.startswith(("Get", "List"))
            return _op(f"iam:{method}", "iam", kind, fields, read_only=read_only)
    raise KeyError(method)


SERVICES: Mapping[str, str] = MappingProxyType(
    {
        "sluice.catalog.v1.CatalogService": "catalog",
        "sluice.jobs.v1.JobService": "jobs",
        "sluice.iam.v1.IamService": "iam",
        "sluice.audit.v1.AuditService": "audit",
    }
)


def operation(full_method: str) -> Operation:
    """The operation of a gRPC method (`/sluice.catalog.v1.CatalogService/GetTable`).

    Raises:
        KeyError: the method is not a known Sluice RPC.
    """
    service, _, method = full_method.lstrip("/").rpartition("/")
    kind = SERVICES[service]
    if kind == "catalog":
        return _CATALOG[method]
    if kind == "jobs":
        return _JOBS[method]
    if kind == "iam":
        return _iam(method)
    read_only = method.startswith(("Query", "Follow", "Get", "List"))
    return _op(f"sluice:{method}", "audit", "trail", read_only=read_only)


# Not an RPC: whether a caller may see connection passwords in clear (GetConnection(s) with
# hide_password false).
READ_SECRETS = "sluice:ReadSecrets"
