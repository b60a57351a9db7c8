"""A real IamService on a loopback port, for the IAM API, SDK and CLI tests (no tests here).

The servicer runs over a SQL identity store on SQLite, behind the error interceptor and a small
authenticating interceptor that stands in for the server's auth interceptor: it authenticates
the bearer token with the real Authenticator and opens the call's record (CallInfo) with the
principal and its account. The store, the servicer and the Authenticator share one clock that
moves only when told to, so expiry is tested without sleeping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from sluice.common.db import Database, sqlite_url
from sluice.common.errors import Unauthenticated
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.interceptors import ErrorInterceptor
from sluice.control_plane.interceptors.handlers import Behaviour, StreamBehaviour, wrap_handler
from sluice.control_plane.security.authenticator import Authenticator
from sluice.control_plane.security.bootstrap import bootstrap_operator
from sluice.control_plane.security.calls import CallInfo, call_scope
from sluice.control_plane.security.schema import upgrade_schema
from sluice.control_plane.security.sql_identity import SqlIdentityStore
from sluice.control_plane.servicers.iam import IamServicer
from sluice.iam.v1 import iam_pb2_grpc
from sluice.sdk.client import Client, connect
from sluice.sdk.config import ClientOptions
from tests.unit.test_jobs_support import FakeClock

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
CALL_TIMEOUT_S = 20.0


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """Authenticates `authorization: Bearer <token>` and opens the call's record."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def intercept_service(
        self, continuation: Any, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        return wrap_handler(
            method,
            continuation(handler_call_details),
            lambda behaviour: self._scoped(method, behaviour),
            lambda behaviour: self._scoped_stream(method, behaviour),
        )

    def _info(self, method: str, context: grpc.ServicerContext) -> CallInfo:
        metadata = dict(context.invocation_metadata() or ())
        header = str(metadata.get("authorization", ""))
        if not header.lower().startswith("bearer "):
            raise Unauthenticated("no credentials")
        principal = self._authenticator.authenticate(header[len("bearer ") :].strip())
        return CallInfo(method=method, principal=principal, account=principal.account)

    def _scoped(self, method: str, behaviour: Behaviour) -> Behaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            with call_scope(self._info(method, context)):
                return behaviour(request, context)

        return call

    def _scoped_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with call_scope(self._info(method, context)):
                yield from behaviour(request, context)

        return call


@dataclass
class IamServer:
    """A running IamService and what it is made of."""

    address: str
    store: SqlIdentityStore
    authenticator: Authenticator
    clock: FakeClock
    admin_token: str
    admin_token_path: Path
    # The job runs run_active says are active.
    active_runs: set[str] = field(default_factory=set)
    _clients: list[Client] = field(default_factory=list)

    def client(self, token: str | None = None, **options: Any) -> Client:
        """An SDK client sending token (the operator's by default); closed with the server."""
        made = connect(
            self.address,
            options=ClientOptions(
                token=self.admin_token if token is None else token,
                timeout_s=CALL_TIMEOUT_S,
                config_file=str(Path("/nonexistent/sluice-config.yaml")),
                **options,
            ),
        )
        self._clients.append(made)
        return made

    def with_token(self, options: ClientOptions, token: str | None = None) -> ClientOptions:
        """options as the CLI made them, with the server's address and token."""
        return dataclasses.replace(
            options,
            address=self.address,
            token=self.admin_token if token is None else token,
            config_file=str(Path("/nonexistent/sluice-config.yaml")),
        )


@contextmanager
def serving_iam(data_dir: Path, *, cache_ttl_s: float = 60.0) -> Iterator[IamServer]:
    """An IamService on a free loopback port, with the operator bootstrapped in ACCOUNT.

    The caches live long (60 s by default), so a test seeing a change take effect at once
    sees invalidation at work, not expiry.
    """
    db = Database(sqlite_url(data_dir))
    upgrade_schema(db)
    clock = FakeClock()
    store = SqlIdentityStore(db, PageTokenCodec(b"iam-api-test-page-token-key"), clock=clock)
    active_runs: set[str] = set()
    authenticator = Authenticator(
        store, run_active=lambda run_id: run_id in active_runs, cache_ttl_s=cache_ttl_s, now=clock
    )
    token_path = bootstrap_operator(store, data_dir, ACCOUNT)
    assert token_path is not None
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="iam-test"),
        interceptors=[ErrorInterceptor(), TokenAuthInterceptor(authenticator)],
    )
    iam_pb2_grpc.add_IamServiceServicer_to_server(IamServicer(store, clock=clock), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    served = IamServer(
        address=f"127.0.0.1:{port}",
        store=store,
        authenticator=authenticator,
        clock=clock,
        admin_token=token_path.read_text().strip(),
        admin_token_path=token_path,
        active_runs=active_runs,
    )
    try:
        yield served
    finally:
        for client in served._clients:
            client.close()
        server.stop(0).wait()
        db.dispose()
