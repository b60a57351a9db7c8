"""Crawler and classifier messages <-> the store's definitions (snake_case dicts, Glue's enum
names without their proto prefix), with the checks Glue makes on them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from google.protobuf import json_format
from google.protobuf.message import Message

from sluice.agents.crawler.custom import compile_grok, json_path_records
from sluice.agents.crawler.engine import LocalAccess
from sluice.agents.crawler.formats import FormatError
from sluice.common.errors import InvalidInput
from sluice.control_plane.convert.common import timestamp
from sluice.control_plane.crawlers.model import Classifier, Crawl, Crawler, crawler_name
from sluice.control_plane.jobs.triggers.cron import GlueCron
from sluice.crawlers.v1 import crawlers_pb2 as api

MAX_DESCRIPTION = 2048
MAX_TABLE_PREFIX = 128
MAX_SAMPLE_SIZE = 249
MAX_TARGETS = 100
_PREFIXES = {
    "update_behavior": "UPDATE_BEHAVIOR_",
    "delete_behavior": "DELETE_BEHAVIOR_",
    "recrawl_behavior": "RECRAWL_BEHAVIOR_",
    "contains_header": "CSV_HEADER_OPTION_",
}
_ENUMS = {
    "update_behavior": api.UpdateBehavior,
    "delete_behavior": api.DeleteBehavior,
    "recrawl_behavior": api.RecrawlBehavior,
    "contains_header": api.CsvHeaderOption,
}


def _plain(value: Any) -> Any:
    """MessageToDict's output with enum names stripped of their prefixes."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            prefix = _PREFIXES.get(k)
            out[k] = v.removeprefix(prefix) if prefix and isinstance(v, str) else _plain(v)
        return out
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_dict(message: Message) -> dict[str, Any]:
    return _plain(
        json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=False
        )
    )


def _with_prefixes(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            prefix = _PREFIXES.get(k)
            out[k] = prefix + v if prefix and isinstance(v, str) and v else _with_prefixes(v)
        return out
    if isinstance(value, list):
        return [_with_prefixes(v) for v in value]
    return value


def from_dict(value: dict[str, Any], message: Message) -> Message:
    return json_format.ParseDict(_with_prefixes(value), message, ignore_unknown_fields=True)


def checked_schedule(schedule: str) -> str:
    if schedule:
        GlueCron.parse(schedule)
    return schedule


def _checked_targets(targets: api.CrawlerTargets, local: LocalAccess | None) -> None:
    count = len(targets.s3_targets) + len(targets.jdbc_targets) + len(targets.catalog_targets)
    if count == 0:
        raise InvalidInput("a crawler needs at least one target")
    if count > MAX_TARGETS:
        raise InvalidInput(f"a crawler has at most {MAX_TARGETS} targets")
    if targets.catalog_targets and (targets.s3_targets or targets.jdbc_targets):
        raise InvalidInput("catalog targets cannot be mixed with other targets")
    for target in targets.s3_targets:
        scheme = urlparse(target.path).scheme
        if not target.path or scheme not in ("file", "s3", "s3a", ""):
            raise InvalidInput(f"target path {target.path!r} is not file://, s3:// or absolute")
        if not scheme and not target.path.startswith("/"):
            raise InvalidInput(f"target path {target.path!r} is not absolute")
        if local is not None and scheme in ("file", ""):
            path = urlparse(target.path).path if scheme else target.path
            if why := local.refusal(path):
                raise InvalidInput(f"target path {target.path!r}: {why}")
        if not 0 <= target.sample_size <= MAX_SAMPLE_SIZE:
            raise InvalidInput(f"sample_size must be between 1 and {MAX_SAMPLE_SIZE}")
    for jdbc in targets.jdbc_targets:
        if not jdbc.connection_name:
            raise InvalidInput("a JDBC target needs a connection_name")
    for catalog in targets.catalog_targets:
        if not catalog.database_name or not catalog.tables:
            raise InvalidInput("a catalog target needs a database_name and tables")


def _checked_configuration(value: str) -> str:
    if value:
        try:
            parsed = json.loads(value)
        except ValueError:
            raise InvalidInput("configuration is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise InvalidInput("configuration must be a JSON object")
    return value


def definition(
    request: api.CreateCrawlerRequest, local: LocalAccess | None = None
) -> dict[str, Any]:
    """The stored definition of a crawler being created; InvalidInput when Glue would refuse."""
    crawler_name(request.name)
    if not request.role:
        raise InvalidInput("a crawler needs a role")
    if len(request.description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description is longer than {MAX_DESCRIPTION} characters")
    if len(request.table_prefix) > MAX_TABLE_PREFIX:
        raise InvalidInput(f"table_prefix is longer than {MAX_TABLE_PREFIX} characters")
    _checked_targets(request.targets, local)
    if (request.targets.s3_targets or request.targets.jdbc_targets) and not request.database_name:
        raise InvalidInput("a crawler of s3:// or JDBC targets needs a database_name")
    checked_schedule(request.schedule)
    _checked_configuration(request.configuration)
    if request.recrawl_policy.recrawl_behavior == api.RECRAWL_BEHAVIOR_CRAWL_EVENT_MODE:
        raise InvalidInput("CRAWL_EVENT_MODE needs an event queue, which Sluice does not have")
    value = to_dict(request)
    value.pop("name", None)
    value.pop("tags", None)
    return value


def updated(
    current: dict[str, Any], request: api.UpdateCrawlerRequest, local: LocalAccess | None = None
) -> dict[str, Any]:
    """current with what request sets (unset fields keep their values), checked as at create."""
    merged = dict(current)
    for name in (
        "role",
        "database_name",
        "description",
        "schedule",
        "table_prefix",
        "configuration",
    ):
        if request.HasField(name):
            merged[name] = getattr(request, name)
    if request.HasField("targets"):
        merged["targets"] = to_dict(request.targets)
    if request.classifiers:
        merged["classifiers"] = list(request.classifiers)
    if request.HasField("schema_change_policy"):
        merged["schema_change_policy"] = to_dict(request.schema_change_policy)
    if request.HasField("recrawl_policy"):
        merged["recrawl_policy"] = to_dict(request.recrawl_policy)
    create = from_dict({**merged, "name": request.name}, api.CreateCrawlerRequest())
    definition(create, local)  # type: ignore[arg-type]
    return merged


def crawler_to_proto(crawler: Crawler, now_elapsed_ms: int = 0) -> api.Crawler:
    d = crawler.definition
    message = api.Crawler(
        name=crawler.name,
        role=d.get("role", ""),
        database_name=d.get("database_name", ""),
        description=d.get("description", ""),
        classifiers=d.get("classifiers", []),
        table_prefix=d.get("table_prefix", ""),
        configuration=d.get("configuration", ""),
        state=api.CrawlerState.Value(f"CRAWLER_STATE_{crawler.state}"),
        crawl_elapsed_time=now_elapsed_ms,
        creation_time=timestamp(crawler.created_on),
        last_updated=timestamp(crawler.last_updated),
        version=crawler.version,
    )
    from_dict(d.get("targets", {}), message.targets)
    from_dict(d.get("schema_change_policy", {}), message.schema_change_policy)
    from_dict(d.get("recrawl_policy", {}), message.recrawl_policy)
    if not message.schema_change_policy.update_behavior:
        message.schema_change_policy.update_behavior = api.UPDATE_BEHAVIOR_UPDATE_IN_DATABASE
    if not message.schema_change_policy.delete_behavior:
        message.schema_change_policy.delete_behavior = api.DELETE_BEHAVIOR_DEPRECATE_IN_DATABASE
    if not message.recrawl_policy.recrawl_behavior:
        message.recrawl_policy.recrawl_behavior = api.RECRAWL_BEHAVIOR_CRAWL_EVERYTHING
    if crawler.schedule:
        message.schedule.schedule_expression = crawler.schedule
        message.schedule.state = api.ScheduleState.Value(f"SCHEDULE_STATE_{crawler.schedule_state}")
    last = crawler.last_crawl
    if last is not None:
        status = {"COMPLETED": "SUCCEEDED", "STOPPED": "CANCELLED"}.get(last.state, "FAILED")
        message.last_crawl.status = api.LastCrawlStatus.Value(f"LAST_CRAWL_STATUS_{status}")
        message.last_crawl.error_message = last.error_message
        message.last_crawl.message_prefix = last.crawl_id
        message.last_crawl.start_time.CopyFrom(timestamp(last.started_on))
    return message


def crawl_to_proto(crawl: Crawl) -> api.CrawlerHistory:
    message = api.CrawlerHistory(
        crawl_id=crawl.crawl_id,
        state=api.CrawlState.Value(f"CRAWL_STATE_{crawl.state}"),
        start_time=timestamp(crawl.started_on),
        summary=json.dumps(crawl.summary, sort_keys=True) if crawl.summary else "",
        error_message=crawl.error_message,
    )
    if crawl.ended_on is not None:
        message.end_time.CopyFrom(timestamp(crawl.ended_on))
    return message


_KINDS = ("grok", "xml", "json", "csv")


def classifier_input(
    request: api.CreateClassifierRequest | api.UpdateClassifierRequest,
) -> tuple[str, str, dict[str, Any]]:
    """(kind, name, definition) of a Create/UpdateClassifier request: exactly one kind set."""
    given = [k for k in _KINDS if request.HasField(f"{k}_classifier")]
    if len(given) != 1:
        raise InvalidInput("give exactly one of grok, xml, json and csv classifier")
    kind = given[0]
    value = to_dict(getattr(request, f"{kind}_classifier"))
    name = crawler_name(value.pop("name", ""))
    creating = isinstance(request, api.CreateClassifierRequest)
    if (
        kind == "grok"
        and creating
        and not (value.get("grok_pattern") and value.get("classification"))
    ):
        raise InvalidInput("a grok classifier needs a classification and a grok_pattern")
    if kind == "xml" and creating and not value.get("classification"):
        raise InvalidInput("an XML classifier needs a classification")
    if kind == "grok" and value.get("grok_pattern"):
        try:
            compile_grok(value["grok_pattern"], value.get("custom_patterns", ""))
        except FormatError as exc:
            raise InvalidInput(f"grok classifier {name}: {exc}") from None
    if kind == "json" and value.get("json_path"):
        try:
            json_path_records({}, value["json_path"])
        except FormatError as exc:
            raise InvalidInput(f"json classifier {name}: {exc}") from None
    if kind == "csv" and len(value.get("delimiter", ",")) != 1:
        raise InvalidInput("a CSV classifier's delimiter is one character")
    return kind, name, value


def classifier_to_proto(classifier: Classifier) -> api.Classifier:
    out = api.Classifier()
    target = getattr(out, f"{classifier.kind}_classifier")
    from_dict(classifier.definition, target)
    target.name = classifier.name
    target.version = classifier.version
    target.creation_time.CopyFrom(timestamp(classifier.created_on))
    target.last_updated.CopyFrom(timestamp(classifier.last_updated))
    return out
