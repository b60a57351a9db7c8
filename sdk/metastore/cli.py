"""`sluice metastore`: a Hive metastore endpoint on the Sluice catalog, for engines outside Sluice.

Spark (`spark.hadoop.hive.metastore.uris=thrift://host:9083`), Hive, Trino and Flink use the
catalog through it; every call acts as the token's principal, so the server authorises, isolates
and audits it like any other call of that principal.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import urllib.parse
from pathlib import Path
from types import FrameType

import click

from sluice.sdk.cli.context import CliContext
from sluice.sdk.client import Client

# A door that cannot start: the same code as a server that cannot start.
EXIT_STARTUP = 2


@click.command("metastore")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=9083, show_default=True, help="Port to listen on.")
@click.option(
    "--token",
    envvar="SLUICE_TOKEN",
    default=None,
    help="The API token the calls act as.  [default: $SLUICE_TOKEN or the config file's]",
)
@click.option(
    "--warehouse",
    default=None,
    help="Location of databases that have none (Hive clients need one).  "
    "[default: file:~/.sluice/warehouse]",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
@click.pass_context
def metastore(
    ctx: click.Context,
    host: str,
    port: int,
    token: str | None,
    warehouse: str | None,
    log_level: str,
) -> None:
    """Serve the Hive metastore Thrift protocol on the Sluice catalog."""
    # Here, not at the top: `sluice --help` lists this command without loading Thrift.
    from sluice.sdk.metastore.handler import FixedClient
    from sluice.sdk.metastore.server import MetastoreDoor

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    state = ctx.find_object(CliContext)
    options = state.options if state is not None else None
    if options is None:
        raise click.UsageError("sluice metastore runs as a command of `sluice`")
    if token:
        options = dataclasses.replace(options, token=token)
    location = warehouse or (Path.home() / ".sluice" / "warehouse").as_uri()
    # Dropping a managed table deletes its files only under a local warehouse: a principal must
    # not have this process delete any path it can name.
    parsed = urllib.parse.urlparse(location)
    data_root = Path(urllib.parse.unquote(parsed.path)) if parsed.scheme in ("", "file") else None
    client = Client(options)
    door = MetastoreDoor(FixedClient(client), location, host=host, port=port, data_root=data_root)
    try:
        door.start()
    except OSError as exc:
        client.close()
        error = click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        error.exit_code = EXIT_STARTUP
        raise error from None

    def stop(_signum: int, _frame: FrameType | None) -> None:
        door.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(
        f"Hive metastore on {door.uri}, answering from the Sluice server at {client.address}",
        err=True,
    )
    try:
        door.serve_forever()
    finally:
        door.stop()
        client.close()
