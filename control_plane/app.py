"""Wiring: the database, store, servicers, interceptors, health and reflection of one server."""

from __future__ import annotations

import errno
import logging
import socket
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from catalog.store.sql import CatalogQuotas, SqlCatalogStore
from common.db import Database
from common.errors import SluiceError
from common.paging import PageTokenCodec
from common.secrets import SecretBox, SecretKeyError, load_secret_box
from control_plane.audit.trail import AuditConfig, AuditTrail
from control_plane.config import ServerConfig
from control_plane.database import open_database
from control_plane.datadir import prepare_data_dir
from control_plane.errors import StartupError
from control_plane.interceptors import AccessLogInterceptor, ErrorInterceptor
from control_plane.interceptors.auth import AuthInterceptor
from control_plane.interceptors.streams import StreamLimitInterceptor, StreamLimits
from control_plane.jobs.model import JobRun
from control_plane.jobs.runtime import JobsRuntime, check_script_roots
from control_plane.logs import fields
from control_plane.retention import Pruner, RetentionPolicy, RunDirs
from control_plane.security.authenticator import Authenticator
from control_plane.security.bootstrap import bootstrap_operator
from control_plane.security.identity_store import IdentityStore
from control_plane.security.roles import AnyRolePasses, CallerPassesRole, RolePassing
from control_plane.security.sql_identity import SqlIdentityStore
from control_plane.servicers.audit import AuditServicer
from control_plane.servicers.catalog import CatalogServicer
from control_plane.servicers.iam import IamServicer
from control_plane.servicers.jobs import JobServicer
from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc

CATALOG_SERVICE = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
JOB_SERVICE = jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name
IAM_SERVICE = iam_pb2.DESCRIPTOR.services_by_name["IamService"].full_name
AUDIT_SERVICE = audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name
SERVED = (CATALOG_SERVICE, JOB_SERVICE, IAM_SERVICE, AUDIT_SERVICE)

log = logging.getLogger("sluice.server")


@dataclass
class App:
    """An assembled server, bound to its port but not yet started."""

    config: ServerConfig
    db: Database
    grpc_server: grpc.Server
    health: health.HealthServicer
    jobs: JobsRuntime
    trail: AuditTrail
    port: int
    pruner: Pruner

    @property
    def address(self) -> str:
        """host:port the server listens on (the real port when config.port was 0)."""
        return self.config.model_copy(update={"port": self.port}).address

    @property
    def run_address(self) -> str:
        """host:port job runs use to reach this server."""
        return self.config.model_copy(update={"port": self.port}).run_address

    def start(self) -> None:
        """Take up the runs in flight, then accept calls and report SERVING."""
        self.trail.start()
        self.jobs.start(self.run_address)
        self.pruner.start()
        self.grpc_server.start()
        for service in (health.OVERALL_HEALTH, *SERVED):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace_s: float | None = None) -> None:
        """Report NOT_SERVING, let calls in flight finish for up to grace_s, release the DB."""
        self.health.enter_graceful_shutdown()
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        self.grpc_server.stop(grace).wait()
        self.pruner.stop()
        self.jobs.stop()
        self.trail.stop()
        self.db.dispose()


PAGE_TOKEN_KEY_PURPOSE = "page-tokens"


def assemble(config: ServerConfig) -> App:
    """Everything a server needs, bound to its port; StartupError when something is unusable."""
    check_transport(config)
    # A taken port is the likeliest mistake: report it before touching any files.
    _check_port_free(config)
    check_script_roots(config)
    data_dir = prepare_data_dir(config.data_dir)
    try:
        secrets = load_secret_box(data_dir)
    except SecretKeyError as exc:
        raise StartupError(exc.message) from None
    # Derived from the secret key, which replicas on one database share: any of them continues
    # a listing another one began.
    key = secrets.derive_key(PAGE_TOKEN_KEY_PURPOSE)
    db = open_database(config.database_url, statement_timeout=config.statement_timeout)
    try:
        return _assemble_server(config, db, PageTokenCodec(key), secrets)
    except StartupError:
        db.dispose()
        raise


def _assemble_server(
    config: ServerConfig, db: Database, codec: PageTokenCodec, secrets: SecretBox
) -> App:
    quotas = CatalogQuotas(
        databases_per_account=config.max_databases_per_account,
        tables_per_database=config.max_tables_per_database,
    )
    store = SqlCatalogStore(db, codec, secrets=secrets, quotas=quotas)
    identity = SqlIdentityStore(db, codec)
    _bootstrap(config, identity)
    trail = AuditTrail(db, codec, AuditConfig(otlp_endpoint=config.otlp_endpoint or ""))
    jobs = JobsRuntime(
        config,
        db,
        codec,
        tracer=trail.tracer,
        run_credentials=lambda run: _run_credentials(identity, run),
    )
    if config.insecure_no_auth:
        log.warning("authentication, authorisation and audit are OFF (--insecure-no-auth)")
        interceptors: list[grpc.ServerInterceptor] = [AccessLogInterceptor(), ErrorInterceptor()]
        roles: RolePassing = AnyRolePasses()
    else:
        authenticator = Authenticator(identity, run_active=jobs.store.run_is_active)
        interceptors = [
            AccessLogInterceptor(),
            trail.interceptor(),
            ErrorInterceptor(),
            AuthInterceptor(authenticator),
        ]
        roles = CallerPassesRole()
    # Innermost, so it knows the caller; its refusals pass the error (and audit) interceptors.
    interceptors.append(
        StreamLimitInterceptor(StreamLimits(config.stream_limit, config.max_streams_per_principal))
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="sluice-rpc"),
        interceptors=interceptors,
        options=[
            # grpc shares ports between servers by default; a second server must fail instead.
            ("grpc.so_reuseport", 0),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.max_receive_message_length", config.max_message_bytes),
        ],
    )
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(store, config.default_catalog_id), server
    )
    jobs_pb2_grpc.add_JobServiceServicer_to_server(
        JobServicer(
            jobs.store,
            store,
            account=config.default_catalog_id,
            on_run_started=jobs.wake,
            pool_status=jobs.pool_status,
            roles=roles,
            scripts=jobs.scripts,
        ),
        server,
    )
    iam_pb2_grpc.add_IamServiceServicer_to_server(IamServicer(identity), server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(trail.store), server)
    health_servicer = health.HealthServicer()
    for service in (health.OVERALL_HEALTH, *SERVED):
        health_servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVED, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = _bind(server, config)
    pruner = Pruner(
        RetentionPolicy(
            run_days=config.run_retention_days,
            audit_days=config.audit_retention_days,
            table_version_days=config.table_version_retention_days,
            table_versions_kept=config.table_versions_kept,
            interval_s=config.prune_interval_s,
        ),
        runs=jobs.store,
        audit=trail,
        catalog=store,
        run_dirs=RunDirs(jobs.runs_dirs, jobs.store.run_is_active),
        # The scheduler's leaseholder prunes for every server on the database.
        leader=lambda: jobs.lease.fence() is not None,
    )
    return App(
        config=config,
        db=db,
        grpc_server=server,
        health=health_servicer,
        jobs=jobs,
        trail=trail,
        port=port,
        pruner=pruner,
    )


def _bootstrap(config: ServerConfig, identity: IdentityStore) -> None:
    """The operator's principal and token at the first start; where the token is, logged."""
    try:
        written = bootstrap_operator(
            identity, config.data_dir, config.default_catalog_id, config.bootstrap_token
        )
    except SluiceError as exc:
        raise StartupError(f"cannot create the operator principal: {exc.message}") from None
    except OSError as exc:
        raise StartupError(f"cannot write the operator token: {exc.strerror}") from None
    if written is not None:
        log.info(
            "operator token written (mode 0600); use it as SLUICE_TOKEN",
            extra=fields(path=str(written)),
        )
    # Principals of runs whose tokens have all expired serve no one any more.
    purged = identity.purge_run_principals(datetime.now(UTC))
    if purged:
        log.info("expired run principals removed", extra=fields(count=purged))


def _run_credentials(identity: IdentityStore, run: JobRun) -> dict[str, str]:
    """A token for the run alone: its account and role, valid until it ends or times out."""
    token = identity.issue_run_token(
        run.isolation.account, run.id, run.isolation.role, run.deadline
    )
    return {"SLUICE_TOKEN": token}


def _check_port_free(config: ServerConfig) -> None:
    # Probing with a plain socket: grpc's own bind failure is an opaque RuntimeError.
    if config.port and _port_in_use(config.host, config.port):
        raise StartupError(f"port {config.port} on {config.host} is already in use")


def check_transport(config: ServerConfig) -> None:
    """TLS; without it plaintext, on loopback by default, elsewhere only with --insecure."""
    if config.tls_cert is None and not config.insecure and not config.is_loopback:
        raise StartupError(
            f"{config.host} is not a loopback address: serve TLS there (--tls-cert and "
            "--tls-key), or pass --insecure to serve it plaintext anyway"
        )


def describe_transport(config: ServerConfig) -> str:
    """How calls travel, for the start-up line."""
    if config.tls_cert is not None:
        return "mutual TLS" if config.client_ca is not None else "TLS"
    if config.is_loopback:
        return "plaintext (loopback only)"
    return "plaintext (--insecure: NOT encrypted)"


def _credentials(cert_file: Path, key_file: Path, ca_file: Path | None) -> grpc.ServerCredentials:
    try:
        chain = cert_file.read_bytes()
        key = key_file.read_bytes()
        ca = ca_file.read_bytes() if ca_file is not None else None
    except OSError as exc:
        raise StartupError(f"cannot read {exc.filename}: {exc.strerror}") from None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=ca, require_client_auth=ca is not None
    )


def _bind(server: grpc.Server, config: ServerConfig) -> int:
    try:
        if config.tls_cert is not None and config.tls_key is not None:
            credentials = _credentials(config.tls_cert, config.tls_key, config.client_ca)
            return server.add_secure_port(config.address, credentials)
        return server.add_insecure_port(config.address)
    except RuntimeError:
        # Taken since the probe at start-up, or unusable for another reason.
        _check_port_free(config)
        raise StartupError(f"cannot listen on {config.address}") from None


def _port_in_use(host: str, port: int) -> bool:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return False
