"""What each RPC does, for authorisation and audit: its action, the resource it acts on, and
whether it only reads. The one place that knows it; a test checks every RPC of every service is
here, so a new RPC cannot slip through unauthorised.

Resources are ARN-like names: `sluice:<service>:<account>:<relative>`, e.g.
`sluice:catalog:123456789012:table/sales/orders`. Policies match them with `*` patterns. Each
part of a name is normalised the way the store normalises it (catalog names are lower-cased by
`catalog.names.resource_name`), so a policy sees the name the store acts on whatever the case
of the request.

Batch and list calls say where their items are (`Items`): the call is authorised on its
container (`table/sales/*`), then each item of a batch on its own resource (a denied item is a
per-item AccessDeniedException, the others go ahead) and each item of a listing (an item the
caller may not see is left out of the page).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from google.protobuf.message import Message

from sluice.catalog.core import names
from sluice.common.errors import AccessDenied, InvalidInput
from sluice.control_plane.crawlers.model import crawler_name
from sluice.control_plane.jobs.checks import job_name
from sluice.control_plane.jobs.triggers.model import trigger_name, workflow_name
from sluice.control_plane.security import checks
from sluice.control_plane.security.access_keys import checked_access_key_id
from sluice.control_plane.security.policy import resource_name
from sluice.control_plane.security.tokens import checked_token_id
from sluice.control_plane.tags.arns import SERVICES as ARN_SERVICES
from sluice.control_plane.tags.arns import parse_arn

# Alternatives separated by "|": the first non-empty field wins; a missing or empty one is "*".
Template = tuple[str, ...]
# The item itself, in an Items template; `item.<path>` is a field of the item.
ITEM = "item"


def _token_or_principal(value: str) -> str:
    # Token resources are named by the token id (RevokeToken) or by its principal's name.
    try:
        return checked_token_id(value)
    except InvalidInput:
        return checks.principal_name(value)


def _access_key_or_principal(value: str) -> str:
    # Access key resources are named by the key id (DeleteAccessKey) or by its principal's name.
    try:
        return checked_access_key_id(value)
    except InvalidInput:
        return checks.principal_name(value)


# How each part of a resource's relative name is normalised, by kind: the store's own checks,
# so authorisation is decided on the name the store acts on (a missing one stays "*").
_NORMALISERS: Mapping[str, tuple[Callable[[str], str], ...]] = MappingProxyType(
    {
        "database": (functools.partial(names.resource_name, "database"),),
        "table": (
            functools.partial(names.resource_name, "database"),
            functools.partial(names.resource_name, "table"),
        ),
        "connection": (functools.partial(names.resource_name, "connection"),),
        "userDefinedFunction": (
            functools.partial(names.resource_name, "database"),
            functools.partial(names.resource_name, "function"),
        ),
        "job": (job_name,),
        "trigger": (trigger_name,),
        "workflow": (workflow_name,),
        "crawler": (crawler_name,),
        "classifier": (crawler_name,),
        "jobrun": (job_name,),
        "principal": (checks.principal_name,),
        "token": (_token_or_principal,),
        "accessKey": (_access_key_or_principal,),
        "policy": (checks.policy_name,),
    }
)


def _relative(kind: str, parts: Sequence[str]) -> str:
    """`kind/part/...` with each part normalised; InvalidInput if one is not a valid name."""
    normalisers = _NORMALISERS.get(kind, ())
    normalised = [
        normalisers[i](part) if i < len(normalisers) and part != "*" else part
        for i, part in enumerate(parts)
    ]
    return "/".join([kind, *normalised])


@dataclass(frozen=True)
class Items:
    """The items of a batch request or of a list response, each with a resource of its own.

    Attributes:
        field: The repeated field holding them: of the request for a batch, of the response
            for a listing.
        parts: Where each part of an item's resource comes from (after the operation's kind):
            `item` (the item, a string), `item.<path>` (a field of the item), or a request
            field path.
        errors: For a batch, the response's repeated field of per-item errors (each with an
            `error_detail`); "" for a listing.
        error_fields: For a batch, each field of an error naming the item, and where its value
            comes from (as in parts).
    """

    field: str
    parts: Template
    errors: str = ""
    error_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Operation:
    """An RPC as policies see it.

    Attributes:
        action: `glue:GetTable`, `sluice:GetJobRunLogs`, `iam:CreateToken`, ...
        service: the resource's service part (catalog, jobs, iam, audit).
        kind: the resource type (table, job, ...); "" for the service as a whole.
        fields: request fields naming the resource, in order.
        read_only: whether the RPC changes nothing.
        batch: for a batch call on items of different resources, where the items are.
        listing: for a list call, where the listed items are.
        arn: for a call on a resource named by a Glue ARN (tags), the request field holding
            it: the resource is the ARN's, in the caller's account (another account's ARN is
            the servicer's EntityNotFound), and service and kind are the ARN's type's.
    """

    action: str
    service: str
    kind: str
    fields: Template
    read_only: bool
    batch: Items | None = None
    listing: Items | None = None
    arn: str = ""

    def resource(self, account: str, request: Message) -> str:
        """The ARN-like name of what this call acts on, its names normalised as the store does.

        Raises:
            InvalidInput: A name in the request is not valid (the store would refuse it too).
        """
        if self.arn:
            parsed = parse_arn(_path(request, self.arn))
            return resource_name(
                ARN_SERVICES[parsed.kind], account, _relative(parsed.kind, [parsed.name])
            )
        if not self.kind:
            return resource_name(self.service, account, "*")
        parts = [_field(request, alternatives) for alternatives in self.fields]
        return resource_name(self.service, account, _relative(self.kind, parts))

    def item_resource(self, items: Items, account: str, request: Message, item: Any) -> str | None:
        """The resource of one item of a batch or listing; None if its name is not valid."""
        try:
            parts = [_part(request, item, path) or "*" for path in items.parts]
            return resource_name(self.service, account, _relative(self.kind, parts))
        except InvalidInput:
            return None

    def batch_size(self, request: Message) -> int:
        """How many items a batch request holds (0 for any other call)."""
        return len(getattr(request, self.batch.field)) if self.batch is not None else 0

    def take_denied(
        self, account: str, request: Message, allowed: Callable[[str], bool]
    ) -> list[tuple[Any, str]]:
        """Removes from a batch request the items the caller may not act on.

        An item whose name is not valid stays: the store reports it as it reports any invalid
        item. Returns the removed items, each with its resource.
        """
        if self.batch is None:
            return []
        kept: list[Any] = []
        denied: list[tuple[Any, str]] = []
        for item in getattr(request, self.batch.field):
            resource = self.item_resource(self.batch, account, request, item)
            if resource is None or allowed(resource):
                kept.append(item)
            else:
                denied.append((item, resource))
        if denied:
            field = getattr(request, self.batch.field)
            del field[:]
            field.extend(kept)
        return denied

    def report_denied(
        self, request: Message, response: Message, denied: Sequence[tuple[Any, str]], who: str
    ) -> None:
        """Adds a batch response's per-item AccessDeniedException for each denied item."""
        if self.batch is None:
            return
        errors = getattr(response, self.batch.errors)
        for item, resource in denied:
            error = errors.add()
            for name, path in self.batch.error_fields:
                setattr(error, name, _part(request, item, path))
            error.error_detail.error_code = AccessDenied.reason
            error.error_detail.error_message = (
                f"{who} is not authorized to perform {self.action} on {resource}"
            )

    def keep_visible(
        self, account: str, request: Message, response: Message, allowed: Callable[[str], bool]
    ) -> None:
        """Leaves out of a listing the items the caller may not see (a page may come out
        shorter than asked, with a next token, as Glue's pages may)."""
        if self.listing is None:
            return
        field = getattr(response, self.listing.field)
        visible = []
        for item in field:
            resource = self.item_resource(self.listing, account, request, item)
            if resource is not None and allowed(resource):
                visible.append(item)
        if len(visible) != len(field):
            # Messages are copied before the field is emptied: extend copies, del releases.
            kept = [_copy(item) for item in visible]
            del field[:]
            field.extend(kept)


def _copy(item: Any) -> Any:
    if isinstance(item, Message):
        copied = type(item)()
        copied.CopyFrom(item)
        return copied
    return item


def _field(request: Message, alternatives: str) -> str:
    for path in alternatives.split("|"):
        value = _path(request, path)
        if value:
            return value
    return "*"


def _part(request: Message, item: Any, path: str) -> str:
    if "|" in path:
        # Alternatives, as in a request's fields: the first non-empty wins.
        return next((v for v in (_part(request, item, p) for p in path.split("|")) if v), "")
    if path == ITEM:
        return item if isinstance(item, str) else ""
    if path.startswith(ITEM + "."):
        return _path(item, path[len(ITEM) + 1 :])
    return _path(request, path)


def _path(message: Any, path: str) -> str:
    value: object = message
    for name in path.split("."):
        value = getattr(value, name, "")
    return value if isinstance(value, str) else ""


def _op(
    action: str,
    service: str,
    kind: str,
    *fields: str,
    read_only: bool,
    batch: Items | None = None,
    listing: Items | None = None,
) -> Operation:
    return Operation(action, service, kind, fields, read_only, batch, listing)


def _catalog(
    method: str,
    kind: str,
    *fields: str,
    batch: Items | None = None,
    listing: Items | None = None,
) -> tuple[str, Operation]:
    read_only = method.startswith(("Get", "Search", "BatchGet"))
    operation = _op(
        f"glue:{method}",
        "catalog",
        kind,
        *fields,
        read_only=read_only,
        batch=batch,
        listing=listing,
    )
    return method, operation


_TABLES = Items("table_list", ("item.database_name", "item.name"))


_CATALOG: Mapping[str, Operation] = dict(
    [
        _catalog("CreateDatabase", "database", "database_input.name"),
        _catalog("GetDatabase", "database", "name"),
        _catalog("GetDatabases", "database", "*", listing=Items("database_list", ("item.name",))),
        _catalog("UpdateDatabase", "database", "name"),
        _catalog("DeleteDatabase", "database", "name"),
        _catalog("CreateTable", "table", "database_name", "table_input.name"),
        _catalog("GetTable", "table", "database_name", "name"),
        _catalog("GetTables", "table", "database_name", "*", listing=_TABLES),
        _catalog("UpdateTable", "table", "database_name", "table_input.name"),
        _catalog("DeleteTable", "table", "database_name", "name"),
        _catalog(
            "BatchDeleteTable",
            "table",
            "database_name",
            "*",
            batch=Items(
                "tables_to_delete",
                ("database_name", ITEM),
                errors="errors",
                error_fields=(("table_name", ITEM),),
            ),
        ),
        _catalog("SearchTables", "table", "*", "*", listing=_TABLES),
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
        _catalog(
            "GetConnections", "connection", "*", listing=Items("connection_list", ("item.name",))
        ),
        _catalog("UpdateConnection", "connection", "name"),
        _catalog("DeleteConnection", "connection", "connection_name"),
        _catalog(
            "CreateUserDefinedFunction",
            "userDefinedFunction",
            "database_name",
            "function_input.function_name",
        ),
        _catalog("GetUserDefinedFunction", "userDefinedFunction", "database_name", "function_name"),
        _catalog(
            "GetUserDefinedFunctions",
            "userDefinedFunction",
            "database_name",
            "*",
            listing=Items("user_defined_functions", ("item.database_name", "item.function_name")),
        ),
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
    "GetJobs": _op(
        "glue:GetJobs", "jobs", "job", "*", read_only=True, listing=Items("jobs", ("item.name",))
    ),
    "ListJobs": _op(
        "glue:ListJobs", "jobs", "job", "*", read_only=True, listing=Items("job_names", (ITEM,))
    ),
    "UpdateJob": _op("glue:UpdateJob", "jobs", "job", "job_name", read_only=False),
    "DeleteJob": _op("glue:DeleteJob", "jobs", "job", "job_name", read_only=False),
    "UploadScript": _op("sluice:UploadScript", "jobs", "script", "name", read_only=False),
    "StartJobRun": _op("glue:StartJobRun", "jobs", "job", "job_name", read_only=False),
    "GetJobRun": _op("glue:GetJobRun", "jobs", "jobrun", "job_name", "run_id", read_only=True),
    "GetJobRuns": _op(
        "glue:GetJobRuns",
        "jobs",
        "jobrun",
        "job_name",
        "*",
        read_only=True,
        listing=Items("job_runs", ("item.job_name", "item.id")),
    ),
    "BatchStopJobRun": _op(
        "glue:BatchStopJobRun",
        "jobs",
        "jobrun",
        "job_name",
        "*",
        read_only=False,
        batch=Items(
            "job_run_ids",
            ("job_name", ITEM),
            errors="errors",
            error_fields=(("job_name", "job_name"), ("job_run_id", ITEM)),
        ),
    ),
    "GetJobRunLogs": _op(
        "sluice:GetJobRunLogs", "jobs", "jobrun", "job_name", "run_id", read_only=True
    ),
    "TailJobRunLogs": _op(
        "sluice:TailJobRunLogs", "jobs", "jobrun", "job_name", "run_id", read_only=True
    ),
    "GetPoolStatus": _op("sluice:GetPoolStatus", "jobs", "pool", read_only=True),
    "WatchJobRun": _op(
        "sluice:WatchJobRun", "jobs", "jobrun", "job_name", "run_id", read_only=True
    ),
}

# Run notifications: the account's run events (sluice:jobs:<account>:runevents) and its webhook
# (sluice:jobs:<account>:webhook).
_NOTIFICATIONS: Mapping[str, Operation] = {
    "GetRunEvents": _op("sluice:GetRunEvents", "jobs", "runevents", read_only=True),
    "WatchRunEvents": _op("sluice:WatchRunEvents", "jobs", "runevents", read_only=True),
    "PutWebhook": _op("sluice:PutWebhook", "jobs", "webhook", read_only=False),
    "GetWebhook": _op("sluice:GetWebhook", "jobs", "webhook", read_only=True),
    "DeleteWebhook": _op("sluice:DeleteWebhook", "jobs", "webhook", read_only=False),
}


def _trigger(method: str, *fields: str, listing: Items | None = None) -> tuple[str, Operation]:
    # Triggers are resources of the jobs service: sluice:jobs:<account>:trigger/<name>.
    action = f"sluice:{method}" if method == "NotifyEvent" else f"glue:{method}"
    read_only = method.startswith(("Get", "List", "BatchGet"))
    return method, _op(action, "jobs", "trigger", *fields, read_only=read_only, listing=listing)


_TRIGGERS: Mapping[str, Operation] = dict(
    [
        _trigger("CreateTrigger", "name"),
        _trigger("GetTrigger", "name"),
        _trigger("GetTriggers", "*", listing=Items("triggers", ("item.name",))),
        _trigger("ListTriggers", "*", listing=Items("trigger_names", (ITEM,))),
        # Authorised on trigger/*; a trigger the caller may not see is left out of the answer.
        _trigger("BatchGetTriggers", "*", listing=Items("triggers", ("item.name",))),
        _trigger("UpdateTrigger", "name"),
        _trigger("DeleteTrigger", "name"),
        _trigger("StartTrigger", "name"),
        _trigger("StopTrigger", "name"),
        _trigger("NotifyEvent", "name"),
    ]
)


def _workflow(method: str, *fields: str, listing: Items | None = None) -> tuple[str, Operation]:
    # Workflows are resources of the jobs service: sluice:jobs:<account>:workflow/<name>.
    read_only = method.startswith(("Get", "List", "BatchGet"))
    return method, _op(
        f"glue:{method}", "jobs", "workflow", *fields, read_only=read_only, listing=listing
    )


_WORKFLOWS: Mapping[str, Operation] = dict(
    [
        _workflow("CreateWorkflow", "name"),
        _workflow("GetWorkflow", "name"),
        _workflow("ListWorkflows", "*", listing=Items("workflows", (ITEM,))),
        # Authorised on workflow/*; a workflow the caller may not see is left out.
        _workflow("BatchGetWorkflows", "*", listing=Items("workflows", ("item.name",))),
        _workflow("UpdateWorkflow", "name"),
        _workflow("DeleteWorkflow", "name"),
        _workflow("StartWorkflowRun", "name"),
        _workflow("GetWorkflowRun", "name"),
        _workflow("GetWorkflowRuns", "name"),
        _workflow("StopWorkflowRun", "name"),
        _workflow("GetWorkflowRunProperties", "name"),
        _workflow("PutWorkflowRunProperties", "name"),
        _workflow("ResumeWorkflowRun", "name"),
    ]
)

# Job bookmarks: GetJobBookmark and ResetJobBookmark act on the job, CommitJobBookmark on the
# committing run (sluice:jobs:<account>:jobrun/<job>/<run id>).
_BOOKMARKS: Mapping[str, Operation] = {
    "GetJobBookmark": _op("glue:GetJobBookmark", "jobs", "job", "job_name", read_only=True),
    "ResetJobBookmark": _op("glue:ResetJobBookmark", "jobs", "job", "job_name", read_only=False),
    "CommitJobBookmark": _op(
        "sluice:CommitJobBookmark", "jobs", "jobrun", "job_name", "run_id", read_only=False
    ),
}


def _crawler(
    method: str, kind: str, *fields: str, listing: Items | None = None
) -> tuple[str, Operation]:
    # Crawlers and classifiers are resources of the jobs service:
    # sluice:jobs:<account>:crawler/<name>, sluice:jobs:<account>:classifier/<name>.
    read_only = method.startswith(("Get", "List", "BatchGet"))
    return method, _op(
        f"glue:{method}", "jobs", kind, *fields, read_only=read_only, listing=listing
    )


_CLASSIFIER_NAME = (
    "grok_classifier.name|xml_classifier.name|json_classifier.name|csv_classifier.name"
)
_CRAWLERS: Mapping[str, Operation] = dict(
    [
        _crawler("CreateCrawler", "crawler", "name"),
        _crawler("GetCrawler", "crawler", "name"),
        _crawler("GetCrawlers", "crawler", "*", listing=Items("crawlers", ("item.name",))),
        # Authorised on crawler/*; a crawler the caller may not see is left out of the answer.
        _crawler("BatchGetCrawlers", "crawler", "*", listing=Items("crawlers", ("item.name",))),
        _crawler("ListCrawlers", "crawler", "*", listing=Items("crawler_names", (ITEM,))),
        _crawler("UpdateCrawler", "crawler", "name"),
        _crawler("DeleteCrawler", "crawler", "name"),
        _crawler("StartCrawler", "crawler", "name"),
        _crawler("StopCrawler", "crawler", "name"),
        _crawler(
            "GetCrawlerMetrics",
            "crawler",
            "*",
            listing=Items("crawler_metrics_list", ("item.crawler_name",)),
        ),
        _crawler("ListCrawls", "crawler", "crawler_name"),
        _crawler("StartCrawlerSchedule", "crawler", "crawler_name"),
        _crawler("StopCrawlerSchedule", "crawler", "crawler_name"),
        _crawler("UpdateCrawlerSchedule", "crawler", "crawler_name"),
        _crawler("CreateClassifier", "classifier", _CLASSIFIER_NAME),
        _crawler("GetClassifier", "classifier", "name"),
        _crawler(
            "GetClassifiers",
            "classifier",
            "*",
            listing=Items(
                "classifiers",
                (
                    "item.grok_classifier.name|item.xml_classifier.name"
                    "|item.json_classifier.name|item.csv_classifier.name",
                ),
            ),
        ),
        _crawler("UpdateClassifier", "classifier", _CLASSIFIER_NAME),
        _crawler("DeleteClassifier", "classifier", "name"),
    ]
)

# Uploaded scripts (sluice:jobs:<account>:script/<name>), as UploadScript names them.
_SCRIPTS: Mapping[str, Operation] = {
    "GetScript": _op("sluice:GetScript", "jobs", "script", "name", read_only=True),
}

# Code generation: the calls as a whole are on the jobs service (sluice:jobs:<account>:*);
# GetMapping and GetPlan also need glue:GetTable on each table they read (the servicer checks).
# None changes anything; CreateScript counts as a write, as every Create does.
_CODEGEN: Mapping[str, Operation] = {
    method: _op(f"glue:{method}", "jobs", "", read_only=not method.startswith("Create"))
    for method in ("GetMapping", "GetPlan", "CreateScript", "GetDataflowGraph")
}

# Tags: on the resource the ARN names (sluice:catalog:<account>:database/<name>, ...).
_TAGS: Mapping[str, Operation] = {
    method: Operation(
        f"glue:{method}", "", "", (), read_only=method == "GetTags", arn="resource_arn"
    )
    for method in ("TagResource", "UntagResource", "GetTags")
}

_IAM_KINDS = {
    "Principal": ("principal", "name|principal_name"),
    "Principals": ("principal", "*"),
    "Token": ("token", "token_id|principal_name|name"),
    "Tokens": ("token", "principal_name|name"),
    "AccessKey": ("accessKey", "access_key_id|principal_name"),
    "AccessKeys": ("accessKey", "principal_name"),
    "Policy": ("policy", "name|policy_name"),
    "Policies": ("policy", "*"),
}
_IAM_LISTINGS = {
    "ListPrincipals": Items("principals", ("item.name",)),
    "ListPolicies": Items("policies", ("item.name",)),
}


def _iam(method: str) -> Operation:
    for suffix in sorted(_IAM_KINDS, key=len, reverse=True):
        if method.endswith(suffix):
            kind, fields = _IAM_KINDS[suffix]
            read_only = method.startswith(("Get", "List"))
            listing = _IAM_LISTINGS.get(method)
            return _op(f"iam:{method}", "iam", kind, fields, read_only=read_only, listing=listing)
    raise KeyError(method)


SERVICES: Mapping[str, str] = MappingProxyType(
    {
        "sluice.catalog.v1.CatalogService": "catalog",
        "sluice.jobs.v1.JobService": "jobs",
        "sluice.jobs.v1.TriggerService": "triggers",
        "sluice.jobs.v1.WorkflowService": "workflows",
        "sluice.jobs.v1.JobBookmarkService": "bookmarks",
        "sluice.jobs.v1.NotificationService": "notifications",
        "sluice.crawlers.v1.CrawlerService": "crawlers",
        "sluice.jobs.v1.CodeGenService": "codegen",
        "sluice.jobs.v1.ScriptService": "scripts",
        "sluice.catalog.v1.TagService": "tags",
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
    if kind == "triggers":
        return _TRIGGERS[method]
    if kind == "workflows":
        return _WORKFLOWS[method]
    if kind == "bookmarks":
        return _BOOKMARKS[method]
    if kind == "notifications":
        return _NOTIFICATIONS[method]
    if kind == "crawlers":
        return _CRAWLERS[method]
    if kind == "codegen":
        return _CODEGEN[method]
    if kind == "scripts":
        return _SCRIPTS[method]
    if kind == "tags":
        return _TAGS[method]
    if kind == "iam":
        return _iam(method)
    read_only = method.startswith(("Query", "Follow", "Get", "List"))
    return _op(f"sluice:{method}", "audit", "trail", read_only=read_only)


# Not an RPC: whether a caller may see connection passwords in clear (GetConnection(s) with
# hide_password false).
READ_SECRETS = "sluice:ReadSecrets"
