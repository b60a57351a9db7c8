"""Connection passwords over the API: encrypted at rest, in clear only for callers that ask and
may read secrets, and never in the server's logs or error messages.

An in-process server on a loopback port: the error interceptor, a stand-in for the auth
interceptor (it opens the call's record with an authorizer, as the real one does), and the
catalog servicer over a SQLite store with a SecretBox.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import update

from sluice.catalog.core.schema import upgrade_schema
from sluice.catalog.core.store.rows import SqlConnection
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.catalog.v1 import types_pb2 as pb
from sluice.common.db import Database, sqlite_url
from sluice.common.paging import PageTokenCodec
from sluice.common.secrets import ENCRYPTED_PREFIX, load_secret_box
from sluice.control_plane.interceptors import AccessLogInterceptor, ErrorInterceptor
from sluice.control_plane.interceptors.handlers import Behaviour, StreamBehaviour, wrap_handler
from sluice.control_plane.logs import JsonFormatter
from sluice.control_plane.security.calls import CallInfo, Principal, call_scope
from sluice.control_plane.servicers.catalog import CatalogServicer
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

READ_SECRETS = "sluice:ReadSecrets"
PRINCIPAL_KEY = "x-test-principal"
DEFAULT_ACCOUNT = "000000000000"


@dataclass
class StandInAuth(grpc.ServerInterceptor):
    """Opens the call's record for callers naming themselves in x-test-principal; the
    authorizer grants READ_SECRETS on the resources in `allow` and records every question."""

    allow: set[str] = field(default_factory=set)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        metadata = dict(handler_call_details.invocation_metadata or ())
        who = str(metadata.get(PRINCIPAL_KEY, ""))

        def scoped(behaviour: Behaviour) -> Behaviour:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                if not who:
                    return behaviour(request, context)
                with call_scope(self._info(method, who)):
                    return behaviour(request, context)

            return call

        def scoped_stream(behaviour: StreamBehaviour) -> StreamBehaviour:
            def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                with call_scope(self._info(method, who)):
                    yield from behaviour(request, context)

            return call

        return wrap_handler(method, continuation(handler_call_details), scoped, scoped_stream)

    def _info(self, method: str, who: str) -> CallInfo:
        def authorizer(action: str, resource: str) -> bool:
            self.asked.append((action, resource))
            return action == READ_SECRETS and resource in self.allow

        principal = Principal(id=who, name=who, account=DEFAULT_ACCOUNT)
        return CallInfo(
            method=method, principal=principal, account=DEFAULT_ACCOUNT, authorizer=authorizer
        )


@dataclass
class Harness:
    stub: catalog_pb2_grpc.CatalogServiceStub
    auth: StandInAuth
    db: Database


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    data_dir: Path = tmp_path_factory.mktemp("secrets-server")
    db = Database(sqlite_url(data_dir))
    upgrade_schema(db)
    store = SqlCatalogStore(
        db, PageTokenCodec(b"k" * 32), secrets=load_secret_box(data_dir, environ={})
    )
    auth = StandInAuth()
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[AccessLogInterceptor(), auth, ErrorInterceptor()],
    )
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(store, DEFAULT_ACCOUNT), grpc_server
    )
    port = free_port()
    grpc_server.add_insecure_port(f"127.0.0.1:{port}")
    grpc_server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Harness(catalog_pb2_grpc.CatalogServiceStub(channel), auth, db)
    finally:
        channel.close()
        grpc_server.stop(None).wait()
        db.dispose()


@pytest.fixture
def harness(server: Harness) -> Harness:
    server.auth.allow.clear()
    server.auth.asked.clear()
    return server


@pytest.fixture
def account() -> str:
    return f"{uuid.uuid4().int % 10**12:012d}"


def _password() -> str:
    return f"pw-{uuid.uuid4().hex}"


def _create(harness: Harness, account: str, name: str, password: str) -> None:
    harness.stub.CreateConnection(
        api.CreateConnectionRequest(
            catalog_id=account,
            connection_input=pb.ConnectionInput(
                name=name,
                connection_type="JDBC",
                connection_properties={
                    "JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/dw",
                    "USERNAME": "etl",
                    "PASSWORD": password,
                },
            ),
        ),
        metadata=((PRINCIPAL_KEY, "admin"),),
        timeout=10,
    )


def _as(principal: str) -> tuple[tuple[str, str], ...]:
    return ((PRINCIPAL_KEY, principal),) if principal else ()


def _resource(account: str, name: str) -> str:
    return f"sluice:catalog:{account}:connection/{name}"


@pytest.mark.parametrize("hide_password", [True, False])
@pytest.mark.parametrize("may_read_secrets", [True, False])
def test_get_connection_reveals_only_when_asked_and_allowed(
    harness: Harness, account: str, hide_password: bool, may_read_secrets: bool
) -> None:
    password = _password()
    _create(harness, account, "Warehouse", password)
    if may_read_secrets:
        harness.auth.allow.add(_resource(account, "warehouse"))
    harness.auth.asked.clear()

    got = harness.stub.GetConnection(
        api.GetConnectionRequest(catalog_id=account, name="WAREHOUSE", hide_password=hide_password),
        metadata=_as("reader"),
        timeout=10,
    )
    properties = dict(got.connection.connection_properties)
    assert properties["USERNAME"] == "etl"
    if not hide_password and may_read_secrets:
        assert properties["PASSWORD"] == password
    else:
        assert "PASSWORD" not in properties
        assert password not in str(got)
    if hide_password:
        assert harness.auth.asked == []
    else:
        # The decision is asked of the authorizer for exactly this connection, by its stored name.
        assert harness.auth.asked == [(READ_SECRETS, _resource(account, "warehouse"))]


def test_get_connections_decides_per_connection(harness: Harness, account: str) -> None:
    passwords = {"alpha": _password(), "beta": _password()}
    for name, password in passwords.items():
        _create(harness, account, name, password)
    harness.auth.allow.add(_resource(account, "alpha"))

    listed = harness.stub.GetConnections(
        api.GetConnectionsRequest(catalog_id=account, hide_password=False),
        metadata=_as("reader"),
        timeout=10,
    )
    shown = {c.name: dict(c.connection_properties) for c in listed.connection_list}
    assert shown["alpha"]["PASSWORD"] == passwords["alpha"]
    assert "PASSWORD" not in shown["beta"]
    assert passwords["beta"] not in str(listed)

    hidden = harness.stub.GetConnections(
        api.GetConnectionsRequest(catalog_id=account, hide_password=True),
        metadata=_as("reader"),
        timeout=10,
    )
    assert all("PASSWORD" not in c.connection_properties for c in hidden.connection_list)


def test_without_an_authorizer_secrets_stay_hidden(harness: Harness, account: str) -> None:
    password = _password()
    _create(harness, account, "warehouse", password)
    harness.auth.allow.add(_resource(account, "warehouse"))
    got = harness.stub.GetConnection(
        api.GetConnectionRequest(catalog_id=account, name="warehouse"), timeout=10
    )
    assert "PASSWORD" not in got.connection.connection_properties


def test_stored_row_holds_ciphertext(harness: Harness, account: str) -> None:
    password = _password()
    _create(harness, account, "warehouse", password)
    table = SqlConnection.__table__
    with harness.db.read() as conn:
        stored = conn.execute(
            table.select().where(table.c.catalog_id == account, table.c.name == "warehouse")
        ).one()
    assert password not in repr(stored)
    assert stored.connection_properties["PASSWORD"].startswith(ENCRYPTED_PREFIX)


def test_password_never_reaches_logs_or_error_messages(
    harness: Harness,
    account: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    password = _password()
    harness.auth.allow.add(_resource(account, "warehouse"))
    errors: list[str] = []

    def failing(call: Callable[[], Any]) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        errors.append(f"{caught.value.code()} {caught.value.details()}")
        errors.append(repr(caught.value.trailing_metadata()))
        return caught.value

    _create(harness, account, "warehouse", password)
    shown = harness.stub.GetConnection(
        api.GetConnectionRequest(catalog_id=account, name="warehouse"),
        metadata=_as("reader"),
        timeout=10,
    )
    assert shown.connection.connection_properties["PASSWORD"] == password
    harness.stub.GetConnections(api.GetConnectionsRequest(catalog_id=account), timeout=10)
    harness.stub.UpdateConnection(
        api.UpdateConnectionRequest(
            catalog_id=account,
            name="warehouse",
            connection_input=pb.ConnectionInput(
                name="warehouse",
                connection_type="JDBC",
                connection_properties={"PASSWORD": password, "USERNAME": "etl2"},
            ),
        ),
        timeout=10,
    )
    # Rejected inputs carrying the password: an overlong value, an unknown type, a clash.
    failing(
        lambda: harness.stub.CreateConnection(
            api.CreateConnectionRequest(
                catalog_id=account,
                connection_input=pb.ConnectionInput(
                    name="long",
                    connection_type="JDBC",
                    connection_properties={"PASSWORD": password * 20_000},
                ),
            ),
            timeout=10,
        )
    )
    failing(
        lambda: harness.stub.CreateConnection(
            api.CreateConnectionRequest(
                catalog_id=account,
                connection_input=pb.ConnectionInput(
                    name="odd", connection_type="ODBC", connection_properties={"PASSWORD": password}
                ),
            ),
            timeout=10,
        )
    )
    failing(lambda: _create(harness, account, "warehouse", password))
    # A row whose ciphertext was altered: an internal error, logged with its traceback.
    table = SqlConnection.__table__
    with harness.db.write() as conn:
        conn.execute(
            update(table)
            .where(table.c.catalog_id == account, table.c.name == "warehouse")
            .values(connection_properties={"PASSWORD": ENCRYPTED_PREFIX + "gAAAAtampered"})
        )
    broken = failing(
        lambda: harness.stub.GetConnection(
            api.GetConnectionRequest(catalog_id=account, name="warehouse"),
            metadata=_as("reader"),
            timeout=10,
        )
    )
    assert broken.code() is grpc.StatusCode.INTERNAL
    assert "cannot be decrypted" in (broken.details() or "")

    formatter = JsonFormatter()
    logged = [formatter.format(record) for record in caplog.records]
    assert any("internal error" in line for line in logged)
    assert any('"code": "INTERNAL"' in line for line in logged)
    out, err = capfd.readouterr()
    for text in (*logged, *errors, out, err):
        assert password not in text
    assert json.dumps(logged)  # every line was formatted, none was skipped
