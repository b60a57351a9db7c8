"""`sluice crawlers` and `sluice classifiers`: crawlers that fill the catalog from data."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from sluice.crawlers.v1 import crawlers_pb2 as api
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.inputs import key_values, load_input, message_from
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, timestamp
from sluice.sdk.crawlers import CrawlWaitTimeout, crawl_state_name, state_name

# Exit codes of `crawlers start --wait`, as `jobs run --wait`'s.
EXIT_FAILED, EXIT_STOPPED, EXIT_WAIT_TIMEOUT = 4, 6, 7


def _targets(c: api.Crawler) -> str:
    t = c.targets
    return ", ".join(
        [s.path for s in t.s3_targets]
        + [f"jdbc:{j.connection_name}/{j.path}" for j in t.jdbc_targets]
        + [f"catalog:{x.database_name}/{','.join(x.tables)}" for x in t.catalog_targets]
    )


def _last(c: api.Crawler) -> str:
    if not c.HasField("last_crawl"):
        return ""
    return api.LastCrawlStatus.Name(c.last_crawl.status).removeprefix("LAST_CRAWL_STATUS_")


COLUMNS = (
    Column("NAME", lambda c: c.name),
    Column("STATE", lambda c: state_name(c.state)),
    Column("DATABASE", lambda c: c.database_name),
    Column("TARGETS", _targets),
    Column("SCHEDULE", lambda c: c.schedule.schedule_expression),
    Column("LAST", _last),
)
FIELDS = (
    Column("Name", lambda c: c.name),
    Column("State", lambda c: state_name(c.state)),
    Column("Role", lambda c: c.role),
    Column("Database", lambda c: c.database_name),
    Column("Targets", _targets),
    Column("Table prefix", lambda c: c.table_prefix),
    Column(
        "Schedule",
        lambda c: (
            f"{c.schedule.schedule_expression} "
            f"({api.ScheduleState.Name(c.schedule.state).removeprefix('SCHEDULE_STATE_')})"
            if c.schedule.schedule_expression
            else ""
        ),
    ),
    Column(
        "Schema change",
        lambda c: "{} / {}".format(
            api.UpdateBehavior.Name(c.schema_change_policy.update_behavior).removeprefix(
                "UPDATE_BEHAVIOR_"
            ),
            api.DeleteBehavior.Name(c.schema_change_policy.delete_behavior).removeprefix(
                "DELETE_BEHAVIOR_"
            ),
        ),
    ),
    Column(
        "Recrawl",
        lambda c: api.RecrawlBehavior.Name(c.recrawl_policy.recrawl_behavior).removeprefix(
            "RECRAWL_BEHAVIOR_"
        ),
    ),
    Column("Last crawl", _last),
    Column("Last error", lambda c: c.last_crawl.error_message),
    Column("Created", lambda c: timestamp(c.creation_time)),
    Column("Version", lambda c: str(c.version)),
)


def _summary(h: api.CrawlerHistory) -> str:
    if not h.summary:
        return ""
    s = json.loads(h.summary)
    return (
        f"{s.get('tables_created', 0)} created, {s.get('tables_updated', 0)} updated, "
        f"{s.get('tables_deleted', 0)} deleted, {s.get('partitions_created', 0)} partitions, "
        f"{s.get('files', 0)} files, {s.get('warnings_count', 0)} warnings"
    )


CRAWL_COLUMNS = (
    Column("CRAWL", lambda h: h.crawl_id),
    Column("STATE", lambda h: crawl_state_name(h.state)),
    Column("STARTED", lambda h: timestamp(h.start_time)),
    Column("ENDED", lambda h: timestamp(h.end_time)),
    Column("SUMMARY", _summary),
    Column("ERROR", lambda h: h.error_message),
)


@click.group()
def crawlers() -> None:
    """Crawlers: tables and partitions inferred from files and databases."""


@crawlers.command("create")
@click.argument("name", required=False)
@click.option("-f", "--file", "input_file", type=click.File("r"), help="A CreateCrawler file.")
@click.option("--role", help="The role its crawls act as (sluice:PassRole needed).")
@click.option("--database", help="Where its tables go.")
@click.option("--path", "paths", multiple=True, help="file:// or s3:// target. Repeatable.")
@click.option("--connection", default="", help="Connection of the s3:// paths (endpoint, keys).")
@click.option("--exclude", "exclusions", multiple=True, help="Glob to leave out. Repeatable.")
@click.option("--jdbc", "jdbc", multiple=True, metavar="CONNECTION:PATH", help="Repeatable.")
@click.option("--schedule", help="Glue's cron, e.g. 'cron(0 2 * * ? *)'.")
@click.option("--table-prefix")
@click.option(
    "--update-behavior", type=click.Choice(["UPDATE_IN_DATABASE", "LOG"], case_sensitive=False)
)
@click.option(
    "--delete-behavior",
    type=click.Choice(
        ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"], case_sensitive=False
    ),
)
@click.option("--new-folders-only", is_flag=True, help="RecrawlPolicy CRAWL_NEW_FOLDERS_ONLY.")
@click.option("--combine-compatible-schemas", is_flag=True)
@click.option("--description")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@pass_cli
def create(
    cli: CliContext,
    name: str | None,
    input_file: IO[str] | None,
    role: str | None,
    database: str | None,
    paths: tuple[str, ...],
    connection: str,
    exclusions: tuple[str, ...],
    jdbc: tuple[str, ...],
    schedule: str | None,
    table_prefix: str | None,
    update_behavior: str | None,
    delete_behavior: str | None,
    new_folders_only: bool,
    combine_compatible_schemas: bool,
    description: str | None,
    tags: tuple[str, ...],
) -> None:
    """Create crawler NAME.

    \b
    Examples:
      sluice crawlers create sales --role crawler --database raw --path file:///data/sales
      sluice crawlers create pg --role crawler --database pg --jdbc mypg:test/public/%
    """
    document: dict[str, Any] = (
        dict(load_input(input_file, api.CreateCrawlerRequest)) if input_file is not None else {}
    )
    source = input_file.name if input_file is not None else "arguments"
    request = message_from(document, api.CreateCrawlerRequest, source=source)
    if name:
        request.name = name
    if not request.name:
        raise click.UsageError("give the crawler's NAME, or a crawler file that names it")
    if role:
        request.role = role
    if database:
        request.database_name = database
    for path in paths:
        request.targets.s3_targets.add(
            path=path, connection_name=connection, exclusions=list(exclusions)
        )
    for item in jdbc:
        conn, _, path = item.partition(":")
        request.targets.jdbc_targets.add(connection_name=conn, path=path)
    if schedule:
        request.schedule = schedule
    if table_prefix is not None:
        request.table_prefix = table_prefix
    if update_behavior:
        request.schema_change_policy.update_behavior = api.UpdateBehavior.Value(
            "UPDATE_BEHAVIOR_" + update_behavior.upper()
        )
    if delete_behavior:
        request.schema_change_policy.delete_behavior = api.DeleteBehavior.Value(
            "DELETE_BEHAVIOR_" + delete_behavior.upper()
        )
    if new_folders_only:
        request.recrawl_policy.recrawl_behavior = api.RECRAWL_BEHAVIOR_CRAWL_NEW_FOLDERS_ONLY
    if combine_compatible_schemas:
        request.configuration = json.dumps(
            {"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}}
        )
    if description is not None:
        request.description = description
    request.tags.update(key_values(tags, option="--tag"))
    cli.client.crawlers.create(request)
    emit_done(cli, f"Created crawler {request.name}.")


@crawlers.command("get")
@click.argument("name")
@pass_cli
def get(cli: CliContext, name: str) -> None:
    """Show crawler NAME."""
    emit_one(cli, cli.client.crawlers.get(name), FIELDS)


@crawlers.command("list")
@pass_cli
def list_(cli: CliContext) -> None:
    """List the crawlers."""
    emit_list(cli, cli.client.crawlers.get_many(), COLUMNS)


@crawlers.command("delete")
@click.argument("name")
@pass_cli
def delete(cli: CliContext, name: str) -> None:
    """Delete crawler NAME (not its tables)."""
    cli.client.crawlers.delete(name)
    emit_done(cli, f"Deleted crawler {name}.")


@crawlers.command("crawls")
@click.argument("name")
@pass_cli
def crawls(cli: CliContext, name: str) -> None:
    """The crawls of crawler NAME, newest first."""
    emit_list(cli, cli.client.crawlers.crawls(name), CRAWL_COLUMNS)


@crawlers.command("stop")
@click.argument("name")
@pass_cli
def stop(cli: CliContext, name: str) -> None:
    """Stop the running crawl of crawler NAME."""
    cli.client.crawlers.stop(name)
    emit_done(cli, f"Stopping crawler {name}.")


@crawlers.command("start")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Follow the crawl with a progress bar until it ends.")
@click.option("--wait-timeout", type=float, help="Seconds to wait at most (the crawl goes on).")
@pass_cli
def start(cli: CliContext, name: str, wait: bool, wait_timeout: float | None) -> None:
    """Start a crawl of crawler NAME.

    With --wait, exits 0 when it COMPLETED, 4 FAILED, 6 STOPPED, 7 when --wait-timeout passed.
    """
    client = cli.client.crawlers
    client.start(name)
    if not wait:
        emit_done(cli, f"Started crawler {name}.")
        return
    try:
        if cli.output is OutputFormat.TABLE and sys.stderr.isatty():
            last = _wait_with_bar(client, name, wait_timeout)
        else:
            last = client.wait(name, timeout_s=wait_timeout)
    except CrawlWaitTimeout as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_WAIT_TIMEOUT) from None
    emit_one(cli, last, CRAWL_FIELDS)
    if last.state == api.CRAWL_STATE_FAILED:
        raise SystemExit(EXIT_FAILED)
    if last.state == api.CRAWL_STATE_STOPPED:
        raise SystemExit(EXIT_STOPPED)


def _wait_with_bar(client: Any, name: str, timeout_s: float | None) -> api.CrawlerHistory:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(f"crawling {name}", total=None)

        def show(metrics: api.CrawlerMetrics) -> None:
            if metrics.files_total:
                bar.update(task, total=metrics.files_total, completed=metrics.files_done)

        return client.wait(name, timeout_s=timeout_s, on_progress=show)  # type: ignore[no-any-return]


CRAWL_FIELDS = (
    Column("Crawl", lambda h: h.crawl_id),
    Column("State", lambda h: crawl_state_name(h.state)),
    Column("Started", lambda h: timestamp(h.start_time)),
    Column("Ended", lambda h: timestamp(h.end_time)),
    Column("Summary", _summary),
    Column("Error", lambda h: h.error_message),
    Column(
        "Warnings",
        lambda h: "\n".join(
            f"{w['path']}: {w['message']}"
            for w in json.loads(h.summary or "{}").get("warnings", [])[:20]
        ),
    ),
)


@crawlers.group("schedule")
def schedule() -> None:
    """A crawler's schedule."""


@schedule.command("start")
@click.argument("name")
@pass_cli
def schedule_start(cli: CliContext, name: str) -> None:
    cli.client.crawlers.start_schedule(name)
    emit_done(cli, f"Scheduled crawler {name}.")


@schedule.command("stop")
@click.argument("name")
@pass_cli
def schedule_stop(cli: CliContext, name: str) -> None:
    cli.client.crawlers.stop_schedule(name)
    emit_done(cli, f"Unscheduled crawler {name}.")


@schedule.command("update")
@click.argument("name")
@click.argument("cron")
@pass_cli
def schedule_update(cli: CliContext, name: str, cron: str) -> None:
    cli.client.crawlers.update_schedule(name, cron)
    emit_done(cli, f"Crawler {name} now runs {cron}.")


def _classifier_kind(c: api.Classifier) -> str:
    for kind in ("grok", "xml", "json", "csv"):
        if c.HasField(f"{kind}_classifier"):
            return kind
    return ""


def _classifier_name(c: api.Classifier) -> str:
    kind = _classifier_kind(c)
    return getattr(c, f"{kind}_classifier").name if kind else ""


CLASSIFIER_COLUMNS = (
    Column("NAME", _classifier_name),
    Column("KIND", _classifier_kind),
    Column("VERSION", lambda c: str(getattr(c, f"{_classifier_kind(c)}_classifier").version)),
)


@click.group()
def classifiers() -> None:
    """Custom classifiers (CSV, JSON, Grok, XML) crawlers may name."""


@classifiers.command("create")
@click.option("-f", "--file", "input_file", type=click.File("r"), required=True)
@pass_cli
def classifier_create(cli: CliContext, input_file: IO[str]) -> None:
    """Create a classifier from a CreateClassifier file ({"csv_classifier": {...}})."""
    request = message_from(
        load_input(input_file, api.CreateClassifierRequest),
        api.CreateClassifierRequest,
        source=input_file.name,
    )
    cli.client.crawlers.create_classifier(request)
    emit_done(cli, "Created classifier.")


@classifiers.command("get")
@click.argument("name")
@pass_cli
def classifier_get(cli: CliContext, name: str) -> None:
    emit_list(cli, [cli.client.crawlers.get_classifier(name)], CLASSIFIER_COLUMNS)


@classifiers.command("list")
@pass_cli
def classifier_list(cli: CliContext) -> None:
    emit_list(cli, cli.client.crawlers.get_classifiers(), CLASSIFIER_COLUMNS)


@classifiers.command("delete")
@click.argument("name")
@pass_cli
def classifier_delete(cli: CliContext, name: str) -> None:
    cli.client.crawlers.delete_classifier(name)
    emit_done(cli, f"Deleted classifier {name}.")
