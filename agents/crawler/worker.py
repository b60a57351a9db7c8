"""One crawl, as a process of its own: `python -m sluice.agents.crawler.worker`.

Reads the crawl's spec (JSON) on stdin, reaches the server at $SLUICE_ADDRESS with the crawler
role's scoped token ($SLUICE_TOKEN), and writes JSON lines on stdout: {"progress": {"done",
"total"}} while files are read, then one {"result": {...}}. SIGTERM asks it to stop: it ends
between files and tables, writing nothing more. It never sees the server's stores or files.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import sys
import threading
import time
from typing import Any

from sluice.agents.crawler.custom import (
    GrokClassifier,
    JsonClassifier,
    XmlClassifier,
    compile_grok,
)
from sluice.agents.crawler.engine import (
    CrawlResult,
    FanOut,
    LocalAccess,
    Options,
    TableResult,
    crawl,
)
from sluice.agents.crawler.formats import CsvClassifier, FormatError
from sluice.agents.crawler.jdbc import JdbcError, list_tables, table_result
from sluice.agents.crawler.writer import CatalogWriter, Policy
from sluice.sdk.client import Client
from sluice.sdk.config import ClientOptions
from sluice.sdk.errors import SluiceError

_stop = threading.Event()


def emit(kind: str, value: Any) -> None:
    sys.stdout.write(json.dumps({kind: value}) + "\n")
    sys.stdout.flush()


def _grouping(configuration: str) -> tuple[bool, int]:
    """CombineCompatibleSchemas and TableLevelConfiguration of Glue's crawler configuration."""
    if not configuration:
        return False, 0
    try:
        grouping = json.loads(configuration).get("Grouping", {})
    except (ValueError, AttributeError):
        return False, 0
    combine = grouping.get("TableGroupingPolicy") == "CombineCompatibleSchemas"
    level = grouping.get("TableLevelConfiguration", 0)
    return combine, int(level) if isinstance(level, int) else 0


def _csv_classifier(classifiers: list[dict[str, Any]]) -> CsvClassifier | None:
    """The first custom CSV classifier the crawler names (Glue tries them in order)."""
    for c in classifiers:
        if c.get("kind") == "csv":
            return CsvClassifier(
                delimiter=c.get("delimiter", ""),
                quote=c.get("quote_symbol", ""),
                contains_header=c.get("contains_header", "UNKNOWN"),
                header=tuple(c.get("header", [])),
            )
    return None


def _custom_classifiers(
    classifiers: list[dict[str, Any]],
) -> tuple[GrokClassifier | XmlClassifier | JsonClassifier, ...]:
    """The crawler's Grok, XML and JSON classifiers, in its order."""
    out: list[GrokClassifier | XmlClassifier | JsonClassifier] = []
    for c in classifiers:
        if c.get("kind") == "grok" and c.get("grok_pattern"):
            out.append(
                GrokClassifier(
                    c.get("classification", "grok"),
                    c["grok_pattern"],
                    c.get("custom_patterns", ""),
                )
            )
        elif c.get("kind") == "xml" and c.get("row_tag"):
            out.append(XmlClassifier(c.get("classification", "xml"), c["row_tag"]))
        elif c.get("kind") == "json" and c.get("json_path"):
            out.append(JsonClassifier(c["json_path"]))
    return tuple(out)


def _connection(client: Client, name: str) -> dict[str, str]:
    if not name:
        return {}
    connection = client.catalog.get_connection(name)
    return dict(connection.connection_properties)


def run(spec: dict[str, Any], client: Client, fan_out: FanOut | None = None) -> dict[str, Any]:
    """Crawls every target of spec and writes the tables; the crawl's result. fan_out: where
    files are listed and read (None: threads of this process)."""
    started = time.monotonic()
    targets = spec.get("targets", {})
    combine, level = _grouping(spec.get("configuration", ""))
    prefix = spec.get("table_prefix", "")
    new_only = spec.get("recrawl_behavior") == "CRAWL_NEW_FOLDERS_ONLY"
    seen: dict[str, list[str]] = spec.get("seen", {})
    access = spec.get("local", {})
    local = LocalAccess(
        roots=tuple(access.get("roots", [])),
        protected=tuple(access.get("protected", LocalAccess.protected)),
    )
    writer = CatalogWriter(
        client.catalog,
        spec["database"],
        spec["crawler"],
        Policy(
            update_behavior=spec.get("update_behavior") or "UPDATE_IN_DATABASE",
            delete_behavior=spec.get("delete_behavior") or "DEPRECATE_IN_DATABASE",
            new_folders_only=new_only,
        ),
        stopped=_stop.is_set,
    )
    warnings: list[tuple[str, str]] = []
    found: list[TableResult] = []
    complete: list[str] = []
    new_seen: dict[str, list[str]] = {}
    try:
        custom = _custom_classifiers(spec.get("classifiers", []))
        for c in custom:
            if isinstance(c, GrokClassifier):
                compile_grok(c.pattern, c.custom_patterns)
    except FormatError as exc:
        warnings.append(("classifiers", str(exc)))
        custom = ()
    files = 0
    progress_base = [0, 0]

    def progress(done: int, total: int) -> None:
        emit("progress", {"done": progress_base[0] + done, "total": progress_base[1] + total})

    for target in targets.get("s3_targets", []):
        path = target["path"]
        try:
            connection = _connection(client, target.get("connection_name", ""))
        except SluiceError as exc:
            warnings.append((path, f"connection {target.get('connection_name')}: {exc}"))
            continue
        options = Options(
            exclusions=tuple(target.get("exclusions", [])),
            sample_size=int(target.get("sample_size", 0) or 0),
            combine_compatible_schemas=combine,
            table_level=level,
            table_prefix=prefix,
            skip_folders=frozenset(seen.get(path, [])) if new_only else frozenset(),
            csv_classifier=_csv_classifier(spec.get("classifiers", [])),
            custom_classifiers=custom,
            local=local,
            fan_out=fan_out,
        )
        result: CrawlResult = crawl(
            path, options, connection=connection, progress=progress, stopped=_stop.is_set
        )
        files += result.files
        progress_base[0] += result.files
        progress_base[1] += result.files
        warnings.extend(result.warnings)
        found.extend(result.tables)
        if result.complete:
            complete.append(path)
            new_seen[path] = result.folders
    for target in targets.get("jdbc_targets", []):
        name = target.get("connection_name", "")
        try:
            props = _connection(client, name)
            for table in list_tables(
                props,
                target.get("path", ""),
                tuple(target.get("exclusions", [])),
                protected=tuple(spec.get("protected_databases", [])),
            ):
                found.append(table_result(table, name, prefix))
        except (SluiceError, JdbcError) as exc:
            warnings.append((f"jdbc:{name}/{target.get('path', '')}", str(exc)))
    catalog_found: list[TableResult] = []
    for target in targets.get("catalog_targets", []):
        database = target.get("database_name", "")
        for name in target.get("tables", []):
            try:
                table = client.catalog.get_table(database, name)
            except SluiceError as exc:
                warnings.append((f"{database}.{name}", str(exc)))
                continue
            location = table.storage_descriptor.location
            result = crawl(
                location,
                Options(table_level=1, local=local, fan_out=fan_out),
                progress=progress,
                stopped=_stop.is_set,
            )
            warnings.extend(result.warnings)
            for t in result.tables[:1]:
                t.name = name
                catalog_found.append(t)
    if not _stop.is_set():
        if found:
            writer.ensure_database()
        writer.write(found)
        if catalog_found:
            catalog_writer = CatalogWriter(
                client.catalog,
                targets["catalog_targets"][0].get("database_name", spec["database"]),
                spec["crawler"],
                writer.policy,
                stopped=_stop.is_set,
            )
            catalog_writer.write(catalog_found, owned_only=False)
            writer.outcome.tables_updated.extend(catalog_writer.outcome.tables_updated)
            writer.outcome.warnings.extend(catalog_writer.outcome.warnings)
        if not new_only and spec["database"]:
            writer.retire([t.name for t in found], [p.rstrip("/") + "/" for p in complete])
    warnings.extend(writer.outcome.warnings)
    summary = writer.outcome.summary()
    summary.update(
        files=files,
        runtime_s=round(time.monotonic() - started, 3),
        warnings=[{"path": p, "message": m} for p, m in warnings[:1000]],
        warnings_count=len(warnings),
    )
    merged_seen = dict(seen)
    merged_seen.update(new_seen)
    return {"summary": summary, "seen": merged_seen, "stopped": _stop.is_set()}


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: _stop.set())
    spec = json.loads(sys.stdin.read())
    try:
        with Client(ClientOptions(timeout_s=60)) as client:
            result = run(spec, client)
    except SluiceError as exc:
        emit("result", {"error": f"{exc}"})
        return 0
    result["summary"]["executed_in"] = {
        "where": "server",
        "os_user": pwd.getpwuid(os.geteuid()).pw_name,
    }
    emit("result", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
