"""Configuration of the control-plane server: one frozen pydantic model, defaults in one place."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from sluice.catalog.core import names
from sluice.catalog.core.model import DEFAULT_CATALOG_ID
from sluice.common.db import sqlite_url
from sluice.common.errors import InvalidInput
from sluice.control_plane.tags.arns import DEFAULT_REGION

MIB = 1024 * 1024
_SUPPORTED_DATABASES = ("sqlite", "postgresql", "postgres")


class ServerConfig(BaseModel):
    """Everything the server needs to start. A field the model does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=50051, ge=0, le=65535, description="0 picks a free port")
    glue_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="port of the Glue door (AWS JSON 1.1 with SigV4, for boto3, the AWS CLI, "
        "Terraform); None: not served; 0 picks a free port",
    )
    region: str = Field(
        default=DEFAULT_REGION,
        pattern=r"^[a-z0-9-]{1,32}$",
        description="the region in the Glue ARNs of this server's resources (tags)",
    )
    console_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="port of the browser console (a door onto this API); None: not served; "
        "0 picks a free port",
    )
    console_port_fallback: bool = Field(
        default=False,
        description="console_port is a default, not asked for: when it is taken the console "
        "takes a free port instead of failing the start",
    )
    data_dir: Path = Field(default_factory=lambda: Path("~/.sluice"), validate_default=True)
    db_url: str | None = Field(
        default=None, description="None: the SQLite file sluice.db in data_dir"
    )
    statement_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="seconds one database statement may take before the call fails with "
        "OperationTimeoutException",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    max_message_bytes: int = Field(default=16 * MIB, ge=1024, le=2**31 - 1)
    # Each TailJobRunLogs or FollowAuditEvents stream holds a worker thread while it follows.
    max_workers: int = Field(default=32, ge=1, le=256)
    max_streams: int | None = Field(
        default=None,
        ge=0,
        le=255,
        description="log and audit streams served at once, fewer than max_workers so that the "
        "other worker threads stay free for unary calls; None: half of max_workers",
    )
    max_streams_per_principal: int = Field(
        default=4, ge=1, le=256, description="log and audit streams one caller may hold open"
    )
    run_retention_days: int = Field(
        default=90,
        ge=0,
        le=36500,
        description="days a job run, its logs and run directory are kept after it ends "
        "(Glue keeps 90); 0: forever",
    )
    audit_retention_days: int = Field(
        default=90,
        ge=0,
        le=36500,
        description="days an audit record is kept (CloudTrail's event history keeps 90); "
        "0: forever",
    )
    table_version_retention_days: int = Field(
        default=0,
        ge=0,
        le=36500,
        description="days an old table version is kept; 0: no age limit (as Glue), only "
        "table_versions_kept",
    )
    table_versions_kept: int = Field(
        default=100_000,
        ge=1,
        le=1_000_000,
        description="newest versions kept per table, the current one included (Glue's quota)",
    )
    max_databases_per_account: int = Field(
        default=10_000, ge=1, description="Glue's quota: a CreateDatabase beyond it fails"
    )
    max_tables_per_database: int = Field(
        default=200_000, ge=1, description="Glue's quota: a CreateTable beyond it fails"
    )
    prune_interval_s: float = Field(
        default=3600.0, gt=0, le=7 * 86400, description="time between two pruning passes"
    )
    default_catalog_id: str = DEFAULT_CATALOG_ID
    shutdown_grace_s: float = Field(default=5.0, ge=0, le=300)
    pool_size: int = Field(
        default=1,
        ge=0,
        le=64,
        description="warm Spark environments kept ready; 0: none, and Ray starts with the "
        "first run",
    )
    max_environments: int = Field(default=4, ge=1, le=256)
    spare_sandboxes: int | None = Field(
        default=None,
        ge=0,
        le=16,
        description="unbound sandboxes (an agent, a Ray head and its warm pool each) kept "
        "started ahead, so that a new account's first run starts warm; None: 1 with a warm "
        "pool, else 0. Not used with ray_address",
    )
    sandbox_dir: Path | None = Field(
        default=None,
        description="root of the sandboxes' work areas (short: Ray's socket paths are under "
        "it); None: <temp dir>/sluice-<hash of the data dir>",
    )
    sandbox_idle_s: float = Field(
        default=1800.0,
        ge=0,
        description="a bound sandbox whose account has had no run this long is removed (its "
        "agent, Ray head, work area, OS user, cgroups, network policy); the account's next run "
        "binds a fresh one. 0: never",
    )
    sandbox_memory_mb: int | None = Field(
        default=None,
        ge=256,
        description="memory limit of each sandbox's cgroup (agent, Ray head and environments); "
        "None: room for max_environments environments of the default shape",
    )
    sandbox_cpus: float | None = Field(
        default=None,
        gt=0,
        description="CPU limit (CFS quota, in cores) of each sandbox's cgroup; None: the "
        "logical CPUs of max_environments environments of the default shape",
    )
    environment_idle_ttl_s: float = Field(default=600.0, gt=0)
    ray_address: str | None = Field(
        default=None, description="host:port of an existing Ray cluster; None: embedded Ray"
    )
    ray_auth_token_path: Path | None = None
    ray_num_cpus: int = Field(
        default=12, ge=1, le=4096, description="logical CPUs of the embedded Ray head"
    )
    lease_ttl_s: float = Field(
        default=15.0,
        ge=1.0,
        le=300.0,
        description="how long the scheduler lease lasts unrenewed (renewed every third of it): "
        "servers on one database take over a dead one's runs within about this long",
    )
    advertise_address: str | None = Field(
        default=None,
        description="host:port job runs use to reach the API; None: the listen address "
        "(127.0.0.1 when listening on every interface)",
    )

    tls_cert: Path | None = Field(default=None, description="PEM certificate chain of the server")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")
    client_ca: Path | None = Field(
        default=None, description="PEM CA bundle: clients must present a certificate it signed"
    )
    insecure: bool = Field(
        default=False,
        validation_alias=AliasChoices("insecure", "plaintext"),
        description="serve without TLS on a host that is not loopback (without a certificate a "
        "loopback host is served plaintext anyway); also accepted as plaintext",
    )
    # Development and benchmarks only: no authentication, authorisation or audit. Allowed only
    # without TLS on loopback.
    insecure_no_auth: bool = False
    # The operator's token at the first start (SLUICE_BOOTSTRAP_TOKEN); random when None.
    bootstrap_token: str | None = Field(default=None, repr=False)
    otlp_endpoint: str | None = Field(
        default=None, description="host:port of an OTLP gRPC collector for the audit spans"
    )
    script_roots: tuple[Path, ...] = Field(
        default=(),
        description="directories whose files jobs may name as file:// scripts; none: jobs run "
        "uploaded scripts only",
    )
    crawl_roots: tuple[Path, ...] = Field(
        default=(),
        description="directories crawlers may crawl as file:// targets (never the server's own "
        "files); none: crawlers crawl s3://, JDBC and catalog targets only",
    )
    crawls_in: Literal["auto", "sandbox", "server"] = Field(
        default="auto",
        description="where crawls run: 'sandbox', as runs in the crawler's account sandbox "
        "(Ray tasks, its OS user); 'server', in a worker process of this server; 'auto': "
        "sandbox with a warm pool (pool_size > 0), else server",
    )
    webhook_allow_networks: tuple[str, ...] = Field(
        default=(),
        description="networks (CIDR) webhooks may call besides public addresses; none: "
        "webhooks call public addresses only (docs/notifications.md)",
    )

    @field_validator("webhook_allow_networks")
    @classmethod
    def _check_networks(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            ipaddress.ip_network(value, strict=False)
        return values

    @field_validator("ray_address", "advertise_address", "otlp_endpoint")
    @classmethod
    def _check_host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _check_streams(self) -> ServerConfig:
        if self.max_streams is not None and self.max_streams >= self.max_workers:
            raise ValueError(
                f"max_streams {self.max_streams} must be below max_workers {self.max_workers}: "
                "unary calls need worker threads of their own"
            )
        return self

    @property
    def crawls_on_ray(self) -> bool:
        """Whether crawls run as runs of the job agents (crawls_in, 'auto' resolved)."""
        if self.crawls_in == "auto":
            return self.pool_size > 0
        return self.crawls_in == "sandbox"

    @property
    def spares(self) -> int:
        """Unbound sandboxes to keep started: spare_sandboxes, or 1 with a warm pool."""
        if self.spare_sandboxes is not None:
            return self.spare_sandboxes
        return 1 if self.pool_size > 0 else 0

    @property
    def stream_limit(self) -> int:
        """Streams served at once: max_streams, or half of the worker threads."""
        return self.max_workers // 2 if self.max_streams is None else self.max_streams

    @model_validator(mode="after")
    def _check_pool(self) -> ServerConfig:
        if self.pool_size > self.max_environments:
            raise ValueError(
                f"pool_size {self.pool_size} exceeds max_environments {self.max_environments}"
            )
        return self

    @model_validator(mode="after")
    def _check_transport(self) -> ServerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.client_ca is not None and self.tls_cert is None:
            raise ValueError("client_ca (mutual TLS) needs tls_cert and tls_key")
        if self.insecure and self.tls_cert is not None:
            raise ValueError("insecure (plaintext) and tls_cert exclude each other")
        if self.insecure_no_auth and (self.tls_cert is not None or not self.is_loopback):
            raise ValueError("insecure_no_auth is only for plaintext servers on loopback")
        return self

    @property
    def is_loopback(self) -> bool:
        """Whether the server listens only on this machine."""
        host = self.host.strip("[]").lower()
        return host in ("localhost", "::1") or host.startswith("127.")

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("script_roots", "crawl_roots")
    @classmethod
    def _expand_script_roots(cls, values: tuple[Path, ...]) -> tuple[Path, ...]:
        return tuple(value.expanduser().absolute() for value in values)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("db_url")
    @classmethod
    def _check_db_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL; use sqlite:///path/to/file.db or "
                "postgresql://user@host:port/database"
            ) from None
        if url.get_backend_name() not in _SUPPORTED_DATABASES:
            raise ValueError(
                f"unsupported database {url.get_backend_name()!r}; use sqlite or postgresql"
            )
        return value

    @field_validator("default_catalog_id")
    @classmethod
    def _check_catalog_id(cls, value: str) -> str:
        try:
            return names.catalog_id(value, DEFAULT_CATALOG_ID)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @property
    def database_url(self) -> str:
        """The URL the server opens: db_url, or the SQLite file in data_dir."""
        return self.db_url if self.db_url is not None else sqlite_url(self.data_dir)

    @property
    def run_address(self) -> str:
        """host:port job runs dial to reach this server's API (set the real port first)."""
        if self.advertise_address is not None:
            return self.advertise_address
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return self.model_copy(update={"host": host}).address

    @property
    def address(self) -> str:
        """host:port as gRPC takes it (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the setting, for people rather than for pydantic."""
    lines = []
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "config"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{where}: {message.removeprefix('Value error, ')}")
    return "; ".join(lines)
