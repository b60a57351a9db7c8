"""`sluice server` (and `python -m sluice.control_plane`): run the control-plane gRPC server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

# The exit code for a server that cannot start: bad settings, port taken, data dir, database.
EXIT_STARTUP = 2
# The console's port on a loopback host when --console-port is not given.
DEFAULT_CONSOLE_PORT = 8051


@click.command("server")
@click.option(
    "--host",
    default=None,
    help="Address to listen on; one that is not loopback needs TLS or --insecure.  "
    "[default: 127.0.0.1]",
)
@click.option("--port", type=int, default=None, help="Port to listen on.  [default: 50051]")
@click.option(
    "--glue-port",
    type=int,
    default=None,
    help="Also serve Glue's own protocol (AWS JSON 1.1, SigV4 with access keys) on this port, "
    "for boto3, the AWS CLI and Terraform.  [default: not served]",
)
@click.option(
    "--region",
    default=None,
    help="The region in the Glue ARNs of this server's resources (TagResource, GetTags).  "
    "[default: us-east-1]",
)
@click.option(
    "--console-port",
    type=int,
    default=None,
    help="Serve the browser console on this port (0: a free one).  [default: on a loopback "
    f"host {DEFAULT_CONSOLE_PORT}, or a free port when that one is taken; elsewhere not served]",
)
@click.option(
    "--no-console",
    is_flag=True,
    default=False,
    help="Do not serve the browser console.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the server keeps its files.  [default: ~/.sluice]",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    help="Database URL, sqlite:///FILE or postgresql://USER@HOST:PORT/DB.  "
    "[default: sluice.db in the data dir]",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="[default: INFO]",
)
@click.option(
    "--log-format", type=click.Choice(["json", "text"]), default=None, help="[default: json]"
)
@click.option(
    "--pool-size",
    type=int,
    default=None,
    help="Warm Spark environments kept ready; 0 starts Ray only when the first run needs it.  "
    "[default: 1]",
)
@click.option(
    "--max-environments",
    type=int,
    default=None,
    help="Spark environments alive at once, warm or in use.  [default: 4]",
)
@click.option(
    "--spare-sandboxes",
    type=int,
    default=None,
    help="Unbound sandboxes (an agent, a Ray head and its warm pool each) started ahead, so "
    "that a new account's first run starts warm.  [default: 1 with a warm pool, else 0]",
)
@click.option(
    "--sandbox-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Root of the sandboxes' work areas; keep it short (Ray's socket paths are under it).  "
    "[default: TMPDIR/sluice-HASH]",
)
@click.option(
    "--sandbox-idle-s",
    type=float,
    default=None,
    help="Remove an account's sandbox (agent, Ray head, work area, OS user) after this long "
    "without a run; its next run binds a fresh one; 0 never.  [default: 1800]",
)
@click.option(
    "--sandbox-memory-mb",
    type=int,
    default=None,
    help="Memory limit of each sandbox's cgroup.  [default: room for --max-environments "
    "environments]",
)
@click.option(
    "--sandbox-cpus",
    type=float,
    default=None,
    help="CPU limit (cores) of each sandbox's cgroup.  [default: the CPUs of "
    "--max-environments environments]",
)
@click.option(
    "--ray-address",
    default=None,
    help="HOST:PORT of an existing Ray cluster to run jobs on.  [default: an embedded Ray]",
)
@click.option(
    "--ray-auth-token-path",
    type=click.Path(path_type=Path),
    default=None,
    help="Token file of an existing Ray cluster with token authentication.",
)
@click.option(
    "--lease-ttl",
    "lease_ttl_s",
    type=float,
    default=None,
    help="Seconds a server's scheduler lease lasts unrenewed: how soon another server on the "
    "same database takes its runs over when it dies.  [default: 15]",
)
@click.option(
    "--advertise-address",
    default=None,
    help="HOST:PORT job runs use to reach this server.  [default: the listen address]",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM certificate (chain) of the server: serve TLS.",
)
@click.option(
    "--tls-key", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Its key."
)
@click.option(
    "--client-ca",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM CA bundle: require client certificates it signed (mutual TLS).",
)
@click.option(
    "--insecure",
    "--plaintext",
    "insecure",
    is_flag=True,
    default=None,
    help="Serve without TLS on a host that is not loopback.  [default: without --tls-cert, "
    "plaintext on a loopback host, refused on any other]",
)
@click.option("--insecure-no-auth", is_flag=True, default=None, hidden=True)
@click.option("--bootstrap-token", envvar="SLUICE_BOOTSTRAP_TOKEN", default=None, hidden=True)
@click.option(
    "--otlp-endpoint",
    default=None,
    help="HOST:PORT of an OTLP gRPC collector (Jaeger, Tempo, ...) to send audit spans to.",
)
@click.option(
    "--max-workers",
    type=int,
    default=None,
    help="Worker threads serving calls.  [default: 32]",
)
@click.option(
    "--max-streams",
    type=int,
    default=None,
    help="Log and audit streams served at once; the other worker threads stay free for other "
    "calls.  [default: half of --max-workers]",
)
@click.option(
    "--max-streams-per-principal",
    type=int,
    default=None,
    help="Log and audit streams one caller may hold open.  [default: 4]",
)
@click.option(
    "--run-retention-days",
    type=int,
    default=None,
    help="Days a job run, its logs and run directory are kept after it ends; 0: forever.  "
    "[default: 90]",
)
@click.option(
    "--audit-retention-days",
    type=int,
    default=None,
    help="Days an audit record is kept; 0: forever.  [default: 90]",
)
@click.option(
    "--table-version-retention-days",
    type=int,
    default=None,
    help="Days an old table version is kept; 0: no age limit.  [default: 0]",
)
@click.option(
    "--table-versions-kept",
    type=int,
    default=None,
    help="Newest versions kept per table, the current one included.  [default: 100000]",
)
@click.option(
    "--script-root",
    "script_roots",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory whose files jobs may name as file:// scripts (repeat for more; never "
    "inside the data dir).  [default: none, jobs run uploaded scripts only]",
)
@click.option(
    "--crawl-root",
    "crawl_roots",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory crawlers may crawl as file:// targets (repeat for more; the server's own "
    "files never).  [default: none, crawlers crawl s3://, JDBC and catalog targets only]",
)
@click.option(
    "--crawls-in",
    type=click.Choice(["auto", "sandbox", "server"]),
    default=None,
    help="Where crawls run: in the crawler's account sandbox (Ray tasks, as its OS user; "
    "file:// targets anywhere that user may read unless --crawl-root limits them), or in a "
    "worker process of the server (file:// only under --crawl-root).  [default: auto, sandbox "
    "with a warm pool, else server]",
)
@click.option(
    "--webhook-allow-network",
    "webhook_allow_networks",
    multiple=True,
    help="A network (CIDR, e.g. 10.0.0.0/8) that accounts' webhooks may call besides public "
    "addresses (repeat for more).  [default: none, public addresses only]",
)
def server(**options: Any) -> None:
    """Run the Sluice control plane: the Data Catalog and jobs gRPC API."""
    # Imported here: `sluice --help` lists this command without loading the server (and Ray).
    from pydantic import ValidationError

    from sluice.control_plane.config import ServerConfig, describe_validation_error
    from sluice.control_plane.errors import StartupError
    from sluice.control_plane.logs import configure_logging
    from sluice.control_plane.server import serve

    no_console = options.pop("no_console")
    # A repeatable option not given is (): the config's default, like an option left None.
    settings = {name: value for name, value in options.items() if value not in (None, ())}
    if no_console:
        settings.pop("console_port", None)
    elif "console_port" not in settings:
        settings["console_port"] = _default_console_port(settings.get("host") or "127.0.0.1")
        settings["console_port_fallback"] = True
    try:
        config = ServerConfig(**settings)
    except ValidationError as exc:
        _fail(f"invalid settings: {describe_validation_error(exc)}")
    configure_logging(config.log_level, config.log_format)
    try:
        code = serve(config)
    except StartupError as exc:
        _fail(exc.message)
    raise SystemExit(code)


def _default_console_port(host: str) -> int | None:
    """The console's port when none is given: on loopback DEFAULT_CONSOLE_PORT, or a free
    port when another server holds it; not served elsewhere (it would need to be asked for)."""
    import ipaddress
    import socket

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, DEFAULT_CONSOLE_PORT))
        except OSError:
            return 0
    return DEFAULT_CONSOLE_PORT


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_STARTUP)
