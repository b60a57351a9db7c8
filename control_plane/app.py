"""Wiring: the database, store, servicers, interceptors, health and reflection of one server."""

from __future__ import annotations

import errno
import logging
import shutil
import socket
import tempfile
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.engine import make_url

from sluice.agents import os_users
from sluice.agents.crawler.engine import LocalAccess
from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.catalog.core.store.base import CatalogStore
from sluice.catalog.core.store.sql import CatalogQuotas, SqlCatalogStore
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc, tags_pb2_grpc
from sluice.common.db import Database
from sluice.common.errors import SluiceError
from sluice.common.paging import PageTokenCodec
from sluice.common.secrets import SecretBox, SecretKeyError, load_secret_box
from sluice.control_plane.audit.trail import AuditConfig, AuditTrail
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.console.app import Console, Identity
from sluice.control_plane.crawlers.model import Crawler
from sluice.control_plane.crawlers.runner import CrawlRunner
from sluice.control_plane.crawlers.sql_store import SqlCrawlerStore
from sluice.control_plane.database import open_database
from sluice.control_plane.datadir import prepare_data_dir
from sluice.control_plane.errors import StartupError
from sluice.control_plane.glue.door import GlueDoor
from sluice.control_plane.glue.operations import glue_operations
from sluice.control_plane.glue.server import GlueServer
from sluice.control_plane.interceptors import AccessLogInterceptor, ErrorInterceptor
from sluice.control_plane.interceptors.auth import AuthInterceptor
from sluice.control_plane.interceptors.streams import StreamLimitInterceptor, StreamLimits
from sluice.control_plane.jobs.bookmarks.sql_store import SqlBookmarkStore
from sluice.control_plane.jobs.model import JobRun
from sluice.control_plane.jobs.notifications.notifier import Notifier
from sluice.control_plane.jobs.notifications.store import SqlNotificationStore
from sluice.control_plane.jobs.notifications.webhooks import AddressRule
from sluice.control_plane.jobs.runtime import JobsRuntime, check_script_roots
from sluice.control_plane.jobs.scripts import PSEUDO_FILESYSTEMS
from sluice.control_plane.logs import fields
from sluice.control_plane.retention import Pruner, RetentionPolicy, RunDirs
from sluice.control_plane.security.authenticator import Authenticator
from sluice.control_plane.security.bootstrap import bootstrap_operator
from sluice.control_plane.security.identity_store import IdentityStore
from sluice.control_plane.security.roles import AnyRolePasses, CallerPassesRole, RolePassing
from sluice.control_plane.security.sql_identity import SqlIdentityStore
from sluice.control_plane.servicers.audit import AuditServicer
from sluice.control_plane.servicers.bookmarks import BOOKMARK_SERVICE, JobBookmarkServicer
from sluice.control_plane.servicers.catalog import CatalogServicer
from sluice.control_plane.servicers.codegen import CODEGEN_SERVICE, CodeGenServicer
from sluice.control_plane.servicers.crawlers import CRAWLER_SERVICE, CrawlerServicer
from sluice.control_plane.servicers.iam import IamServicer
from sluice.control_plane.servicers.jobs import JobServicer
from sluice.control_plane.servicers.notifications import NotificationServicer
from sluice.control_plane.servicers.scripts import SCRIPT_SERVICE, ScriptServicer
from sluice.control_plane.servicers.tags import TAG_SERVICE, TagServicer
from sluice.control_plane.servicers.triggers import TriggerServicer
from sluice.control_plane.servicers.workflows import WorkflowServicer
from sluice.control_plane.tags.store import SqlTagStore
from sluice.crawlers.v1 import crawlers_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import (
    bookmarks_pb2_grpc,
    codegen_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    notifications_pb2,
    notifications_pb2_grpc,
    scripts_pb2_grpc,
    triggers_pb2,
    triggers_pb2_grpc,
    workflows_pb2,
    workflows_pb2_grpc,
)

CATALOG_SERVICE = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
JOB_SERVICE = jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name
NOTIFICATION_SERVICE = notifications_pb2.DESCRIPTOR.services_by_name[
    "NotificationService"
].full_name
IAM_SERVICE = iam_pb2.DESCRIPTOR.services_by_name["IamService"].full_name
AUDIT_SERVICE = audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name
TRIGGER_SERVICE = triggers_pb2.DESCRIPTOR.services_by_name["TriggerService"].full_name
WORKFLOW_SERVICE = workflows_pb2.DESCRIPTOR.services_by_name["WorkflowService"].full_name
SERVED = (
    CATALOG_SERVICE,
    JOB_SERVICE,
    IAM_SERVICE,
    AUDIT_SERVICE,
    TRIGGER_SERVICE,
    WORKFLOW_SERVICE,
    BOOKMARK_SERVICE,
    CRAWLER_SERVICE,
    CODEGEN_SERVICE,
    TAG_SERVICE,
    SCRIPT_SERVICE,
    NOTIFICATION_SERVICE,
)
# What the Glue door serves: every service but Sluice's own identity, audit and notifications.
GLUE_SERVED = tuple(
    s for s in SERVED if s not in (IAM_SERVICE, AUDIT_SERVICE, NOTIFICATION_SERVICE)
)

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
    crawls: CrawlRunner
    glue: GlueServer | None = None
    console: GlueServer | None = None
    notifier: Notifier | None = None

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
        self.crawls.start(self.run_address)
        self.pruner.start()
        if self.notifier is not None:
            self.notifier.start()
        self.grpc_server.start()
        if self.glue is not None:
            self.glue.start()
        if self.console is not None:
            self.console.start()
        for service in (health.OVERALL_HEALTH, *SERVED):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace_s: float | None = None) -> None:
        """Report NOT_SERVING, let calls in flight finish for up to grace_s, release the DB."""
        self.health.enter_graceful_shutdown()
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        if self.glue is not None:
            self.glue.stop()
        if self.console is not None:
            self.console.stop()
        self.grpc_server.stop(grace).wait()
        self.pruner.stop()
        if self.notifier is not None:
            self.notifier.stop()
        self.crawls.stop()
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
    identity = SqlIdentityStore(db, codec, secrets=secrets)
    # Tells the auth interceptor a call comes from this server's own door (see glue/door.py).
    door_key = token_urlsafe(32)
    _bootstrap(config, identity)
    trail = AuditTrail(db, codec, AuditConfig(otlp_endpoint=config.otlp_endpoint or ""))
    jobs = JobsRuntime(
        config,
        db,
        codec,
        tracer=trail.tracer,
        run_credentials=lambda run: _run_credentials(identity, run),
        catalog=store,
    )
    crawler_store = SqlCrawlerStore(db, codec)
    # file:// crawls in this server's worker processes read as its user: only under
    # --crawl-root. In the accounts' sandboxes they read as each sandbox's own OS user: anywhere
    # that user may (unless --crawl-root narrows it). Never the server's own files either way.
    roots = tuple(str(root) for root in config.crawl_roots)
    if config.crawls_on_ray and not roots and _sandboxes_have_own_users(config):
        roots = ("/",)
    local = LocalAccess(
        roots=roots,
        protected=tuple(str(p) for p in (*jobs.scripts.protected, *PSEUDO_FILESYSTEMS)),
    )
    crawls = CrawlRunner(
        crawler_store,
        identity.issue_run_token,
        leader=lambda: jobs.lease.fence() is not None,
        tls_ca=str(config.tls_cert) if config.tls_cert is not None else None,
        local=local,
        own_database=_own_postgresql(config.database_url),
        executor=jobs.executor if config.crawls_on_ray else None,
        network=lambda account, crawler: _crawler_network(store, account, crawler),
        tracer=trail.tracer,
    )
    if config.insecure_no_auth:
        log.warning("authentication, authorisation and audit are OFF (--insecure-no-auth)")
        interceptors: list[grpc.ServerInterceptor] = [AccessLogInterceptor(), ErrorInterceptor()]
        roles: RolePassing = AnyRolePasses()
        authenticator: Authenticator | None = None
    else:
        authenticator = Authenticator(
            identity,
            # Crawls' tokens are run tokens too, valid while their crawl runs.
            run_active=lambda run_id: (
                jobs.store.run_is_active(run_id) or crawler_store.crawl_is_active(run_id)
            ),
        )
        interceptors = [
            AccessLogInterceptor(),
            trail.interceptor(),
            ErrorInterceptor(),
            AuthInterceptor(authenticator, door_key=door_key),
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
    tags = SqlTagStore(db)
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(store, config.default_catalog_id, tags=tags), server
    )
    tags_pb2_grpc.add_TagServiceServicer_to_server(
        TagServicer(tags, account=config.default_catalog_id, region=config.region), server
    )
    scripts_pb2_grpc.add_ScriptServiceServicer_to_server(
        ScriptServicer(jobs.store, account=config.default_catalog_id), server
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
            authorise_script_writes=not config.insecure_no_auth,
            log_arrivals=jobs.log_arrivals,
        ),
        server,
    )
    bookmarks_pb2_grpc.add_JobBookmarkServiceServicer_to_server(
        JobBookmarkServicer(SqlBookmarkStore(db), account=config.default_catalog_id), server
    )
    triggers_pb2_grpc.add_TriggerServiceServicer_to_server(
        TriggerServicer(
            jobs.triggers,
            jobs.store,
            account=config.default_catalog_id,
            network=jobs.trigger_network,
            on_fired=_waking(jobs, crawls),
            roles=roles,
            crawler_role=lambda account, name: crawler_store.get_crawler(account, name).role,
        ),
        server,
    )
    workflows_pb2_grpc.add_WorkflowServiceServicer_to_server(
        WorkflowServicer(
            jobs.workflows,
            jobs.store,
            account=config.default_catalog_id,
            network=jobs.trigger_network,
            on_fired=_waking(jobs, crawls),
            stop_crawler=crawler_store.stop_crawl,
        ),
        server,
    )
    crawlers_pb2_grpc.add_CrawlerServiceServicer_to_server(
        CrawlerServicer(
            crawler_store, crawls, account=config.default_catalog_id, roles=roles, local=local
        ),
        server,
    )
    codegen_pb2_grpc.add_CodeGenServiceServicer_to_server(
        CodeGenServicer(
            store,
            account=config.default_catalog_id,
            authorise_reads=not config.insecure_no_auth,
        ),
        server,
    )
    notifications = SqlNotificationStore(db, secrets)
    address_rule = AddressRule(config.webhook_allow_networks)
    # The scheduler's leaseholder records run events and delivers them for every server.
    notifier = Notifier(notifications, address_rule, leader=lambda: jobs.lease.fence() is not None)
    notifications_pb2_grpc.add_NotificationServiceServicer_to_server(
        NotificationServicer(
            notifications,
            address_rule,
            account=config.default_catalog_id,
            on_webhook_set=notifier.wake,
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
    glue = _glue_door(config, server, door_key) if config.glue_port is not None else None
    console = None
    if config.console_port is not None:
        if authenticator is None:
            log.warning("the console is not served without authentication (--insecure-no-auth)")
        else:
            console = _console_door(config, server, door_key, authenticator)
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
        crawls=crawls,
        glue=glue,
        console=console,
        notifier=notifier,
    )


def _glue_door(config: ServerConfig, server: grpc.Server, door_key: str) -> GlueServer:
    """The Glue door on config.glue_port, calling this server through a socket of its own
    (plaintext, whatever the transport of the gRPC port: only the door's key is accepted)."""
    # A socket in a directory of the server's OS user alone (0700): no other local user, such
    # as a sandbox's, can reach this plaintext port.
    socket_dir = Path(tempfile.mkdtemp(prefix="sluice-glue-"))
    target = f"unix:{socket_dir / 'door.sock'}"
    server.add_insecure_port(target)
    door = GlueDoor(
        glue_operations(GLUE_SERVED),
        target,
        door_key,
        max_body_bytes=config.max_message_bytes,
    )
    try:
        return GlueServer(
            door.app,
            config.host,
            config.glue_port or 0,
            tls_cert=config.tls_cert,
            tls_key=config.tls_key,
            private_dir=socket_dir,
        )
    except StartupError:
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise


def _console_door(
    config: ServerConfig, server: grpc.Server, door_key: str, authenticator: Authenticator
) -> GlueServer:
    """The browser console on config.console_port: a door like the Glue one, calling this
    server with the signed-in principal's token through a socket of its own."""
    socket_dir = Path(tempfile.mkdtemp(prefix="sluice-console-"))
    target = f"unix:{socket_dir / 'door.sock'}"
    server.add_insecure_port(target)

    def identify(token: str) -> Identity:
        principal = authenticator.authenticate(token)
        return Identity(principal.name, principal.account, principal.roles, principal.operator)

    console = Console(target, door_key, identify, secure_cookies=config.tls_cert is not None)
    ports = [config.console_port or 0]
    if config.console_port and config.console_port_fallback:
        ports.append(0)  # the default port is another server's: any free one will do
    for port in ports:
        try:
            return GlueServer(
                console.app,
                config.host,
                port,
                tls_cert=config.tls_cert,
                tls_key=config.tls_key,
                private_dir=socket_dir,
                name="Console",
            )
        except StartupError:
            if port == ports[-1]:
                shutil.rmtree(socket_dir, ignore_errors=True)
                raise
    raise AssertionError("unreachable")


def _own_postgresql(url: str) -> str:
    """host:port/database of the server's PostgreSQL ("" on SQLite): no crawler crawls it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return ""
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or 'postgres'}"


def _waking(jobs: JobsRuntime, crawls: CrawlRunner) -> Callable[[], None]:
    """What a trigger call wakes: the run scheduler (runs started), the crawl runner (crawls
    begun) and the trigger firer."""

    def wake() -> None:
        jobs.wake()
        crawls.wake()
        jobs.wake_triggers()

    return wake


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


def _sandboxes_have_own_users(config: ServerConfig) -> bool:
    """Whether each account's runs execute as an OS user of their own (embedded Ray, a root
    server), not as this server's user or a shared cluster's."""
    return config.ray_address is None and os_users.can_switch_users()


def _crawler_network(store: CatalogStore, account: str, crawler: Crawler) -> tuple[str, str]:
    """The subnet and security group of a crawler's crawls: its first connection's (an s3://
    target's, else a JDBC target's), as a job's runs take their first connection's."""
    targets = crawler.definition.get("targets", {})
    names = [
        t.get("connection_name", "")
        for kind in ("s3_targets", "jdbc_targets")
        for t in targets.get(kind, [])
    ]
    name = next((n for n in names if n), "")
    if not name:
        return "", ""
    requirements = store.get_connection(account, name).physical_connection_requirements
    if requirements is None:
        return "", ""
    groups = requirements.security_group_id_list
    return requirements.subnet_id, groups[0] if groups else ""


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
    if config.glue_port and _port_in_use(config.host, config.glue_port):
        raise StartupError(f"Glue port {config.glue_port} on {config.host} is already in use")
    if (
        config.console_port
        and not config.console_port_fallback
        and _port_in_use(config.host, config.console_port)
    ):
        raise StartupError(f"Console port {config.console_port} on {config.host} is already in use")


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
