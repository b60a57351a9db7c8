"""The console's ASGI app: server-rendered pages that call this server's own gRPC API with the
signed-in principal's token, through the server's private socket, as the door `console`.

The console reads no store: whatever a page shows came from an API call the principal made,
authorised, account-isolated and audited as any other (the audit trail names the door and the
browser's address). Live parts (a run's logs, the audit trail) are server-sent events relayed
from the streaming calls.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import grpc
from google.protobuf import json_format
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.audit.v1 import types_pb2 as audit_types
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.control_plane.console.notifications import notification_routes
from sluice.control_plane.console.sessions import (
    COOKIE,
    PRE_COOKIE,
    Session,
    Sessions,
    same,
)
from sluice.control_plane.interceptors.auth import DOOR_CLIENT, DOOR_KEY, DOOR_NAME
from sluice.control_plane.interceptors.request_id import REQUEST_ID_KEY
from sluice.crawlers.v1 import crawlers_pb2, crawlers_pb2_grpc
from sluice.jobs.v1 import (
    jobs_pb2,
    jobs_pb2_grpc,
    scripts_pb2,
    scripts_pb2_grpc,
    triggers_pb2,
    triggers_pb2_grpc,
)
from sluice.jobs.v1 import types_pb2 as job_types

DOOR = "console"
# The script_location of a script uploaded with UploadScript (sluice://scripts/NAME).
UPLOADED_PREFIX = "sluice://scripts/"
PAGE_SIZE = 100
MAX_FORM_BYTES = 1024 * 1024
_HERE = Path(__file__).parent
_STATUS_DETAILS = "grpc-status-details-bin"
_TERMINAL = {"STOPPED", "SUCCEEDED", "FAILED", "TIMEOUT", "ERROR"}
_OUTCOMES = {"": 0, "SUCCESS": 1, "FAILURE": 2, "DENIED": 3}
_SINCE = {"15m": 15, "1h": 60, "24h": 1440, "7d": 10080}

log = logging.getLogger("sluice.console")


@dataclass(frozen=True)
class Identity:
    """Who a token stands for, as the console shows it."""

    principal: str
    account: str
    roles: tuple[str, ...]
    operator: bool


class ApiError(Exception):
    """A gRPC call failed: the Glue error name and message, as the page shows them."""

    def __init__(self, kind: str, message: str, code: grpc.StatusCode) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.code = kind, message, code


Form = dict[str, str]
_PageHandler = Callable[[Any, Request, Session], Awaitable[Response]]
_FormHandler = Callable[[Any, Request, Session, Form], Awaitable[Response]]


def _page_view(handler: _PageHandler) -> Callable[[Any, Request], Awaitable[Response]]:
    """A page for a signed-in principal: the sign-in page without a session, the API's error
    (its Glue name and message) as an error page when a call fails."""

    @functools.wraps(handler)
    async def view(console: Console, request: Request) -> Response:
        session = console._session(request)
        if session is None:
            return _redirect("/signin")
        try:
            return await handler(console, request, session)
        except ApiError as exc:
            return console._error_page(request, session, exc)

    return view


def _form_view(handler: _FormHandler) -> Callable[[Any, Request], Awaitable[Response]]:
    """A POSTed form of a signed-in principal, as _page_view, refused (403) unless its CSRF
    token and origin are this session's."""

    @functools.wraps(handler)
    async def view(console: Console, request: Request) -> Response:
        session = console._session(request)
        if session is None:
            return _redirect("/signin")
        form = await console._form(request, session)
        if form is None:
            return _forbidden()
        try:
            return await handler(console, request, session, form)
        except ApiError as exc:
            return console._error_page(request, session, exc)

    return view


class Console:
    """The console app.

    Args:
        target: gRPC address of this server's own API (its private unix socket).
        door_key: The secret that tells the auth interceptor a call is this server's door's.
        identify: Who a token stands for (the server's authenticator); raises for a bad token.
        secure_cookies: Mark the session cookie Secure (the console is served over TLS).
        timeout_s: Deadline of each unary call.
    """

    def __init__(
        self,
        target: str,
        door_key: str,
        identify: Callable[[str], Identity],
        *,
        secure_cookies: bool = False,
        timeout_s: float = 30.0,
        sessions: Sessions | None = None,
    ) -> None:
        self._target = target
        self._door_key = door_key
        self._identify = identify
        self._secure = secure_cookies
        self._timeout_s = timeout_s
        self.sessions = sessions or Sessions()
        self._channel: grpc.aio.Channel | None = None
        self._templates = Jinja2Templates(directory=str(_HERE / "templates"))
        self._templates.env.filters["ts"] = _ts
        self._templates.env.filters["q"] = lambda v: quote(str(v), safe="")
        routes = [
            Route("/", self.home),
            Route("/signin", self.signin_form, methods=["GET"]),
            Route("/signin", self.signin, methods=["POST"]),
            Route("/signout", self.signout, methods=["POST"]),
            Route("/databases", self.databases),
            Route("/databases/{db}", self.tables),
            Route("/databases/{db}/tables/{table}", self.table),
            Route("/databases/{db}/tables/{table}/versions", self.versions),
            Route("/databases/{db}/tables/{table}/partitions", self.partitions),
            Route("/connections", self.connections),
            Route("/jobs", self.jobs),
            Route("/new-job", self.new_job, methods=["GET"]),
            Route("/new-job", self.create_job, methods=["POST"]),
            Route("/jobs/{job}", self.job),
            Route("/jobs/{job}/edit", self.edit_job, methods=["GET"]),
            Route("/jobs/{job}/edit", self.update_job, methods=["POST"]),
            Route("/jobs/{job}/runs", self.start_run, methods=["POST"]),
            Route("/jobs/{job}/runs/{run}", self.run),
            Route("/jobs/{job}/runs/{run}/stop", self.stop_run, methods=["POST"]),
            Route("/jobs/{job}/runs/{run}/events", self.run_events),
            Route("/pool", self.pool),
            Route("/triggers", self.triggers),
            Route("/crawlers", self.crawlers),
            Route("/audit", self.audit),
            Route("/audit/follow", self.audit_follow),
            Route("/audit/trace/{trace_id}", self.trace),
            *notification_routes(self),
            Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
        ]
        self.app = Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._channel = grpc.aio.insecure_channel(self._target)
        try:
            yield
        finally:
            await self._channel.close()
            self._channel = None

    # --- plumbing -----------------------------------------------------------------------

    def _stubs(self) -> _Stubs:
        if self._channel is None:
            raise RuntimeError("the console's lifespan has not started")
        return _Stubs(self._channel)

    def _metadata(self, request: Request, token: str) -> list[tuple[str, str]]:
        client = request.client.host if request.client is not None else ""
        return [
            ("authorization", f"Bearer {token}"),
            (DOOR_KEY, self._door_key),
            (DOOR_NAME, DOOR),
            (DOOR_CLIENT, client),
            (REQUEST_ID_KEY, _request_id()),
        ]

    async def _call(self, request: Request, session: Session, method: Any, message: Message) -> Any:
        try:
            return await method(
                message, metadata=self._metadata(request, session.token), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _api_error(exc) from None

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def _page(
        self,
        request: Request,
        session: Session | None,
        template: str,
        status: int = 200,
        **ctx: Any,
    ) -> Response:
        response = self._templates.TemplateResponse(
            request, template, {"session": session, **ctx}, status_code=status
        )
        _harden(response)
        return response

    def _error_page(self, request: Request, session: Session, exc: ApiError) -> Response:
        if exc.code == grpc.StatusCode.UNAUTHENTICATED:
            # The token was revoked or expired: the session ends with it.
            self.sessions.drop(request.cookies.get(COOKIE))
            return _redirect("/signin?expired=1")
        return self._page(request, session, "error.html", status=_http_status(exc), error=exc)

    async def _form(self, request: Request, session: Session | None) -> dict[str, str] | None:
        """The POSTed form (urlencoded), or None when its CSRF token or origin is wrong."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return None
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            return None
        expected = session.csrf if session is not None else request.cookies.get(PRE_COOKIE)
        if not same(form.get("csrf"), expected):
            return None
        return form

    # --- sign-in ------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return _redirect("/databases" if self._session(request) else "/signin")

    async def signin_form(self, request: Request, error: str = "") -> Response:
        pre = request.cookies.get(PRE_COOKIE) or _request_id() + _request_id()
        if request.query_params.get("expired"):
            error = error or "Your session ended: sign in again."
        response = self._page(
            request, None, "signin.html", status=401 if error else 200, error=error, csrf=pre
        )
        response.set_cookie(
            PRE_COOKIE, pre, httponly=True, samesite="strict", secure=self._secure, path="/"
        )
        return response

    async def signin(self, request: Request) -> Response:
        form = await self._form(request, None)
        if form is None:
            return _forbidden()
        token = form.get("token", "").strip()
        if not token:
            return await self.signin_form(request, "Paste an API token.")
        probe = Session(token, "", "", (), False, "")
        # The sign-in is an API call like any other: audited (door console), refused when
        # the token is not valid. A policy refusing the call itself still proves the token.
        try:
            await self._call(
                request,
                probe,
                self._stubs().catalog.GetDatabases,
                catalog_pb2.GetDatabasesRequest(max_results=1),
            )
        except ApiError as exc:
            if exc.code == grpc.StatusCode.UNAUTHENTICATED:
                return await self.signin_form(request, "That token is not valid (or expired).")
        try:
            who = self._identify(token)
        except Exception:
            return await self.signin_form(request, "That token is not valid (or expired).")
        client = request.client.host if request.client is not None else ""
        sid = self.sessions.create(
            Session(token, who.principal, who.account, who.roles, who.operator, client)
        )
        log.info("console sign-in", extra={"principal": who.principal, "account": who.account})
        response = _redirect("/databases")
        response.set_cookie(
            COOKIE, sid, httponly=True, samesite="strict", secure=self._secure, path="/"
        )
        response.delete_cookie(PRE_COOKIE, path="/")
        return response

    @_form_view
    async def signout(self, request: Request, session: Session, _form: Form) -> Response:
        self.sessions.drop(request.cookies.get(COOKIE))
        response = _redirect("/signin")
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- catalog ------------------------------------------------------------------------

    @_page_view
    async def databases(self, request: Request, session: Session) -> Response:
        token = request.query_params.get("next_token", "")
        answer = await self._call(
            request,
            session,
            self._stubs().catalog.GetDatabases,
            catalog_pb2.GetDatabasesRequest(next_token=token, max_results=PAGE_SIZE),
        )
        return self._page(
            request,
            session,
            "databases.html",
            databases=answer.database_list,
            next_token=answer.next_token,
        )

    @_page_view
    async def tables(self, request: Request, session: Session) -> Response:
        db = request.path_params["db"]
        search = request.query_params.get("q", "").strip()
        token = request.query_params.get("next_token", "")
        expression = f".*{_re2_escape(search)}.*" if search else ""
        answer = await self._call(
            request,
            session,
            self._stubs().catalog.GetTables,
            catalog_pb2.GetTablesRequest(
                database_name=db, expression=expression, next_token=token, max_results=PAGE_SIZE
            ),
        )
        return self._page(
            request,
            session,
            "tables.html",
            db=db,
            q=search,
            tables=answer.table_list,
            next_token=answer.next_token,
        )

    @_page_view
    async def table(self, request: Request, session: Session) -> Response:
        db, name = request.path_params["db"], request.path_params["table"]
        answer = await self._call(
            request,
            session,
            self._stubs().catalog.GetTable,
            catalog_pb2.GetTableRequest(database_name=db, name=name),
        )
        table = answer.table
        sd = table.storage_descriptor
        return self._page(
            request,
            session,
            "table.html",
            db=db,
            table=table,
            storage=_dict(sd, drop=("columns",)),
            parameters=dict(table.parameters),
        )

    @_page_view
    async def versions(self, request: Request, session: Session) -> Response:
        db, name = request.path_params["db"], request.path_params["table"]
        answer = await self._call(
            request,
            session,
            self._stubs().catalog.GetTableVersions,
            catalog_pb2.GetTableVersionsRequest(
                database_name=db, table_name=name, max_results=PAGE_SIZE
            ),
        )
        by_id = {v.version_id: v.table for v in answer.table_versions}
        ids = list(by_id)
        a = request.query_params.get("a") or (ids[1] if len(ids) > 1 else "")
        b = request.query_params.get("b") or (ids[0] if ids else "")
        diff: list[str] = []
        if a in by_id and b in by_id:
            diff = list(
                difflib.unified_diff(
                    _pretty(by_id[a]).splitlines(),
                    _pretty(by_id[b]).splitlines(),
                    f"version {a}",
                    f"version {b}",
                    lineterm="",
                )
            )
        return self._page(
            request, session, "versions.html", db=db, name=name, ids=ids, a=a, b=b, diff=diff
        )

    @_page_view
    async def partitions(self, request: Request, session: Session) -> Response:
        db, name = request.path_params["db"], request.path_params["table"]
        expression = request.query_params.get("expression", "").strip()
        token = request.query_params.get("next_token", "")
        stubs = self._stubs()
        try:
            table = await self._call(
                request,
                session,
                stubs.catalog.GetTable,
                catalog_pb2.GetTableRequest(database_name=db, name=name),
            )
            answer = await self._call(
                request,
                session,
                stubs.catalog.GetPartitions,
                catalog_pb2.GetPartitionsRequest(
                    database_name=db,
                    table_name=name,
                    expression=expression,
                    next_token=token,
                    max_results=PAGE_SIZE,
                    exclude_column_schema=True,
                ),
            )
        except ApiError as exc:
            if exc.code == grpc.StatusCode.INVALID_ARGUMENT:
                return self._page(
                    request,
                    session,
                    "partitions.html",
                    status=400,
                    db=db,
                    name=name,
                    keys=[],
                    partitions=[],
                    expression=expression,
                    next_token="",
                    error=exc,
                )
            raise
        return self._page(
            request,
            session,
            "partitions.html",
            db=db,
            name=name,
            keys=[k.name for k in table.table.partition_keys],
            partitions=answer.partitions,
            expression=expression,
            next_token=answer.next_token,
            error=None,
        )

    @_page_view
    async def connections(self, request: Request, session: Session) -> Response:
        answer = await self._call(
            request,
            session,
            self._stubs().catalog.GetConnections,
            catalog_pb2.GetConnectionsRequest(hide_password=True, max_results=PAGE_SIZE),
        )
        rows = []
        for connection in answer.connection_list:
            shown = _dict(connection)
            # Never a secret on a page, whatever the server would have sent.
            props = {
                k: v for k, v in shown.pop("connectionProperties", {}).items() if not _secret_key(k)
            }
            rows.append({"name": connection.name, "properties": props, "rest": shown})
        return self._page(request, session, "connections.html", connections=rows)

    # --- jobs ---------------------------------------------------------------------------

    @_page_view
    async def jobs(self, request: Request, session: Session) -> Response:
        stubs = self._stubs()
        answer = await self._call(
            request,
            session,
            stubs.jobs.GetJobs,
            jobs_pb2.GetJobsRequest(
                next_token=request.query_params.get("next_token", ""), max_results=PAGE_SIZE
            ),
        )
        rows = []
        for job in answer.jobs:
            runs = await self._call(
                request,
                session,
                stubs.jobs.GetJobRuns,
                jobs_pb2.GetJobRunsRequest(job_name=job.name, max_results=1),
            )
            rows.append((job, runs.job_runs[0] if runs.job_runs else None))
        return self._page(
            request, session, "jobs.html", rows=rows, next_token=answer.next_token, state=_state
        )

    @_page_view
    async def job(self, request: Request, session: Session) -> Response:
        name = request.path_params["job"]
        stubs = self._stubs()
        job = await self._call(
            request, session, stubs.jobs.GetJob, jobs_pb2.GetJobRequest(job_name=name)
        )
        runs = await self._call(
            request,
            session,
            stubs.jobs.GetJobRuns,
            jobs_pb2.GetJobRunsRequest(job_name=name, max_results=50),
        )
        return self._page(
            request,
            session,
            "job.html",
            job=job.job,
            runs=runs.job_runs,
            state=_state,
            history=_history(runs.job_runs),
        )

    # Creating and editing a job: the form is the job's members and its script, uploaded with
    # UploadScript; the API's errors (InvalidInput naming the member) are shown on the form.

    @_page_view
    async def new_job(self, request: Request, session: Session) -> Response:
        return self._job_form(request, session, None, _NEW_JOB_FORM)

    @_form_view
    async def create_job(self, request: Request, session: Session, form: Form) -> Response:
        name = form.get("name", "").strip()
        script_name = f"{name}.py"
        stubs = self._stubs()
        try:
            create = jobs_pb2.CreateJobRequest(name=name)
            _apply_job_form(create, form, f"{UPLOADED_PREFIX}{script_name}")
            # The job first: a name already taken replaces no other job's script.
            await self._call(request, session, stubs.jobs.CreateJob, create)
        except ApiError as exc:
            return self._job_form(request, session, None, form, exc)
        try:
            await self._upload(request, session, script_name, form)
        except ApiError as exc:
            return self._page(request, session, "error.html", status=_http_status(exc), error=exc)
        return _redirect(f"/jobs/{quote(name, safe='')}")

    @_page_view
    async def edit_job(self, request: Request, session: Session) -> Response:
        job = await self._get_job(request, session)
        form = _job_form_values(job)
        script = await self._read_script(request, session, form["script_name"])
        return self._job_form(request, session, job, {**form, "script": script or ""}, None)

    @_form_view
    async def update_job(self, request: Request, session: Session, form: Form) -> Response:
        job = await self._get_job(request, session)
        shown = {**_job_form_values(job), **form}
        try:
            update = json_format.ParseDict(
                MessageToDict(job, preserving_proto_field_name=True),
                job_types.JobUpdate(),
                ignore_unknown_fields=True,
            )
            _apply_job_form(update, form, job.command.script_location)
            await self._call(
                request,
                session,
                self._stubs().jobs.UpdateJob,
                jobs_pb2.UpdateJobRequest(job_name=job.name, job_update=update),
            )
            script_name = _editable_script(job)
            if script_name and "script" in form:
                await self._upload(request, session, script_name, form)
        except ApiError as exc:
            return self._job_form(request, session, job, shown, exc)
        return _redirect(f"/jobs/{quote(job.name, safe='')}")

    async def _get_job(self, request: Request, session: Session) -> Any:
        answer = await self._call(
            request,
            session,
            self._stubs().jobs.GetJob,
            jobs_pb2.GetJobRequest(job_name=request.path_params["job"]),
        )
        return answer.job

    async def _read_script(self, request: Request, session: Session, name: str) -> str | None:
        """The text of uploaded script `name`; None when there is none, or the principal may
        not read it (the form then keeps the script unless a new one is written)."""
        if not name:
            return None
        try:
            answer = await self._call(
                request,
                session,
                self._stubs().scripts.GetScript,
                scripts_pb2.GetScriptRequest(name=name),
            )
        except ApiError as exc:
            if exc.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                return None
            raise
        return bytes(answer.content).decode("utf-8", "replace")

    async def _upload(self, request: Request, session: Session, name: str, form: Form) -> None:
        # Browsers send a textarea's lines with CRLF.
        content = form.get("script", "").replace("\r\n", "\n")
        await self._call(
            request,
            session,
            self._stubs().jobs.UploadScript,
            jobs_pb2.UploadScriptRequest(name=name, content=content.encode()),
        )

    def _job_form(
        self,
        request: Request,
        session: Session,
        job: Any,
        form: Mapping[str, str],
        error: ApiError | None = None,
    ) -> Response:
        if error is not None and error.code == grpc.StatusCode.UNAUTHENTICATED:
            return self._error_page(request, session, error)
        creating = job is None
        script_name = "" if creating else _editable_script(job)
        if creating:
            note = ""
        elif job.code_gen_configuration_nodes:
            note = "generated from the job's visual nodes (edit them with sluice jobs update -f)."
        else:
            note = "not an uploaded script: the server reads it from its script root."
        return self._page(
            request,
            session,
            "job_form.html",
            status=200 if error is None else _http_status(error),
            creating=creating,
            name="" if creating else job.name,
            action="/new-job" if creating else f"/jobs/{quote(job.name, safe='')}/edit",
            form=form,
            error=error,
            worker_types=_WORKER_TYPES,
            script_editable=creating or bool(script_name),
            script_loaded=creating or form.get("script", "") != "" or error is not None,
            script_note=note,
        )

    @_form_view
    async def start_run(self, request: Request, session: Session, form: Form) -> Response:
        name = request.path_params["job"]
        arguments = _arguments(form.get("arguments", ""))
        answer = await self._call(
            request,
            session,
            self._stubs().jobs.StartJobRun,
            jobs_pb2.StartJobRunRequest(job_name=name, arguments=arguments),
        )
        return _redirect(f"/jobs/{quote(name, safe='')}/runs/{quote(answer.job_run_id, safe='')}")

    @_page_view
    async def run(self, request: Request, session: Session) -> Response:
        name, run_id = request.path_params["job"], request.path_params["run"]
        answer = await self._call(
            request,
            session,
            self._stubs().jobs.GetJobRun,
            jobs_pb2.GetJobRunRequest(job_name=name, run_id=run_id),
        )
        run = answer.job_run
        return self._page(
            request,
            session,
            "run.html",
            name=name,
            run=run,
            state=_state(run.job_run_state),
            terminal=_state(run.job_run_state) in _TERMINAL,
            duration=_duration(run),
        )

    @_form_view
    async def stop_run(self, request: Request, session: Session, _form: Form) -> Response:
        name, run_id = request.path_params["job"], request.path_params["run"]
        await self._call(
            request,
            session,
            self._stubs().jobs.BatchStopJobRun,
            jobs_pb2.BatchStopJobRunRequest(job_name=name, job_run_ids=[run_id]),
        )
        return _redirect(f"/jobs/{quote(name, safe='')}/runs/{quote(run_id, safe='')}")

    async def run_events(self, request: Request) -> Response:
        """The run's logs (stdout, stderr, driver) and state as server-sent events, while it
        runs; `end` when it has ended."""
        session = self._session(request)
        if session is None:
            return Response(status_code=401)
        name, run_id = request.path_params["job"], request.path_params["run"]
        call = self._stubs().jobs.TailJobRunLogs(
            jobs_pb2.TailJobRunLogsRequest(job_name=name, run_id=run_id),
            metadata=self._metadata(request, session.token),
        )

        async def events() -> AsyncIterator[str]:
            state = ""
            try:
                async for answer in call:
                    for entry in answer.entries:
                        yield _sse(
                            "log",
                            {
                                "stream": job_types.LogStream.Name(entry.stream)
                                .removeprefix("LOG_STREAM_")
                                .lower(),
                                "message": entry.message,
                                "time": _ts(entry.timestamp),
                            },
                        )
                    now = _state(answer.job_run_state)
                    if now and now != state:
                        state = now
                        yield _sse("state", {"state": state})
                yield _sse("end", {"state": state})
            except grpc.aio.AioRpcError as exc:
                error = _api_error(exc)
                yield _sse("failure", {"error": error.kind, "message": error.message})
            finally:
                call.cancel()

        return _event_stream(events())

    @_page_view
    async def pool(self, request: Request, session: Session) -> Response:
        answer = await self._call(
            request, session, self._stubs().jobs.GetPoolStatus, jobs_pb2.GetPoolStatusRequest()
        )
        status = answer.pool_status
        return self._page(
            request,
            session,
            "pool.html",
            pool=status,
            sandboxes=[_dict(s) for s in status.sandboxes],
        )

    @_page_view
    async def triggers(self, request: Request, session: Session) -> Response:
        answer = await self._call(
            request,
            session,
            self._stubs().triggers.GetTriggers,
            triggers_pb2.GetTriggersRequest(max_results=PAGE_SIZE),
        )
        return self._page(
            request, session, "triggers.html", triggers=[_dict(t) for t in answer.triggers]
        )

    @_page_view
    async def crawlers(self, request: Request, session: Session) -> Response:
        answer = await self._call(
            request,
            session,
            self._stubs().crawlers.GetCrawlers,
            crawlers_pb2.GetCrawlersRequest(
                max_results=PAGE_SIZE, next_token=request.query_params.get("next_token", "")
            ),
        )
        return self._page(
            request,
            session,
            "crawlers.html",
            crawlers=[_dict(c) for c in answer.crawlers],
            next_token=answer.next_token,
        )

    # --- audit --------------------------------------------------------------------------

    def _audit_filter(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        since = params.get("since", "1h")
        return {
            "principal": params.get("principal", "").strip(),
            "action": params.get("action", "").strip(),
            "resource": params.get("resource", "").strip(),
            "trace_id": params.get("trace_id", "").strip(),
            "outcome": params.get("outcome", "") if params.get("outcome") in _OUTCOMES else "",
            "since": since if since in _SINCE else "1h",
        }

    @_page_view
    async def audit(self, request: Request, session: Session) -> Response:
        chosen = self._audit_filter(request)
        start = Timestamp()
        start.FromDatetime(datetime.now(UTC) - timedelta(minutes=_SINCE[chosen["since"]]))
        answer = await self._call(
            request,
            session,
            self._stubs().audit.QueryAuditEvents,
            audit_pb2.QueryAuditEventsRequest(
                principal=chosen["principal"],
                action=chosen["action"],
                resource=chosen["resource"],
                trace_id=chosen["trace_id"],
                outcome=_OUTCOMES[chosen["outcome"]],
                start_time=start,
                next_token=request.query_params.get("next_token", ""),
                max_results=PAGE_SIZE,
            ),
        )
        return self._page(
            request,
            session,
            "audit.html",
            events=answer.events,
            next_token=answer.next_token,
            chosen=chosen,
            query=urlencode(chosen),
            outcome=_outcome,
        )

    async def audit_follow(self, request: Request) -> Response:
        """New audit records matching the filter, as server-sent events."""
        session = self._session(request)
        if session is None:
            return Response(status_code=401)
        chosen = self._audit_filter(request)
        call = self._stubs().audit.FollowAuditEvents(
            audit_pb2.FollowAuditEventsRequest(
                principal=chosen["principal"],
                action=chosen["action"],
                resource=chosen["resource"],
                trace_id=chosen["trace_id"],
                outcome=_OUTCOMES[chosen["outcome"]],
            ),
            metadata=self._metadata(request, session.token),
        )

        async def events() -> AsyncIterator[str]:
            try:
                async for answer in call:
                    for event in _follow_events(answer):
                        yield _sse("audit", _event_row(event))
            except grpc.aio.AioRpcError as exc:
                error = _api_error(exc)
                yield _sse("failure", {"error": error.kind, "message": error.message})
            finally:
                call.cancel()

        return _event_stream(events())

    @_page_view
    async def trace(self, request: Request, session: Session) -> Response:
        """The records of one trace as a waterfall: those sharing the trace id, within an hour
        either side of the record the page was opened from."""
        trace_id = request.path_params["trace_id"]
        try:
            at = datetime.fromisoformat(request.query_params.get("at", ""))
        except ValueError:
            at = datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        start, end = Timestamp(), Timestamp()
        start.FromDatetime(at - timedelta(hours=1))
        end.FromDatetime(at + timedelta(hours=1))
        spans: list[Any] = []
        token = ""
        for _ in range(10):  # a trace of more than 10,000 records is shown in part
            answer = await self._call(
                request,
                session,
                self._stubs().audit.QueryAuditEvents,
                audit_pb2.QueryAuditEventsRequest(
                    trace_id=trace_id,
                    start_time=start,
                    end_time=end,
                    next_token=token,
                    max_results=1000,
                ),
            )
            spans += answer.events
            token = answer.next_token
            if not token:
                break
        return self._page(request, session, "trace.html", trace_id=trace_id, bars=_waterfall(spans))


class _Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        self.jobs = jobs_pb2_grpc.JobServiceStub(channel)
        self.triggers = triggers_pb2_grpc.TriggerServiceStub(channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(channel)
        self.crawlers = crawlers_pb2_grpc.CrawlerServiceStub(channel)
        self.scripts = scripts_pb2_grpc.ScriptServiceStub(channel)


def _request_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _forbidden() -> Response:
    response = HTMLResponse(
        "<!doctype html><title>Forbidden</title><p>The form has expired or did not come "
        "from this console (CSRF check failed). Reload the page and try again.</p>",
        status_code=403,
    )
    _harden(response)
    return response


def _harden(response: Response) -> None:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


def _event_stream(events: AsyncIterator[str]) -> Response:
    response = StreamingResponse(events, media_type="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _sse(event: str, data: Mapping[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _api_error(exc: grpc.aio.AioRpcError) -> ApiError:
    kind = ""
    for key, value in exc.trailing_metadata() or ():
        if key == _STATUS_DETAILS and isinstance(value, bytes):
            with contextlib.suppress(Exception):
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                        info = error_details_pb2.ErrorInfo()
                        detail.Unpack(info)
                        kind = info.reason
    if not kind:
        kind = {
            grpc.StatusCode.UNAVAILABLE: "ServiceUnavailableException",
            grpc.StatusCode.UNAUTHENTICATED: "UnauthenticatedException",
            grpc.StatusCode.INVALID_ARGUMENT: "InvalidInputException",
        }.get(exc.code(), "InternalServiceException")
    message = exc.details() or ""
    if kind == "InternalServiceException":
        log.warning("console call failed", extra={"code": str(exc.code())})
        message = "the server could not complete the call"
    return ApiError(kind, message, exc.code())


def _ts(value: Timestamp | None) -> str:
    if value is None or (not value.seconds and not value.nanos):
        return ""
    return value.ToDatetime(tzinfo=UTC).isoformat(timespec="milliseconds")


def _dict(message: Message, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    shown = MessageToDict(message)
    for name in drop:
        shown.pop(name, None)
    return shown


def _pretty(message: Message) -> str:
    shown = _dict(message)
    for name in ("versionId", "updateTime", "createTime", "lastAccessTime"):
        shown.pop(name, None)
    return json.dumps(shown, indent=2, sort_keys=True)


def _secret_key(key: str) -> bool:
    return any(word in key.upper() for word in ("PASSWORD", "SECRET", "TOKEN", "KEY"))


def _state(value: int) -> str:
    if not value:
        return ""
    return job_types.JobRunState.Name(value).removeprefix("JOB_RUN_STATE_")


def _outcome(value: int) -> str:
    return audit_types.AuditOutcome.Name(value).removeprefix("AUDIT_OUTCOME_")


def _duration(run: Any) -> str:
    if not run.started_on.seconds:
        return ""
    end = run.completed_on.ToDatetime(tzinfo=UTC) if run.completed_on.seconds else datetime.now(UTC)
    seconds = (end - run.started_on.ToDatetime(tzinfo=UTC)).total_seconds()
    return f"{seconds:.1f} s"


_RE2_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _re2_escape(text: str) -> str:
    return _RE2_SPECIAL.sub(r"\\\1", text)


def _arguments(text: str) -> dict[str, str]:
    """Run arguments from the form: one `--key=value` (or `key=value`) a line."""
    arguments: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip("- "):
            raise _invalid(f"an argument is key=value, not {line!r}")
        key = key.strip()
        arguments[key if key.startswith("--") else f"--{key}"] = value
    return arguments


_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "Standard")
_NEW_JOB_FORM = {
    "command": "glueetl",
    "worker_type": "G.1X",
    "number_of_workers": "2",
    "timeout": "0",
    "max_retries": "0",
    "script": 'import sys\n\nprint("hello from Sluice")\n',
}


def _whole_number(form: Form, member: str, glue_name: str) -> int:
    text = form.get(member, "").strip() or "0"
    try:
        return int(text)
    except ValueError:
        raise _invalid(f"{glue_name} must be a whole number, not {text!r}") from None


def _apply_job_form(message: Any, form: Form, script_location: str) -> None:
    """Sets a CreateJobRequest's or a JobUpdate's members from the job form."""
    message.description = form.get("description", "").strip()
    message.role = form.get("role", "").strip()
    message.command.name = form.get("command", "glueetl")
    message.command.script_location = script_location
    message.worker_type = form.get("worker_type", "")
    message.number_of_workers = _whole_number(form, "number_of_workers", "NumberOfWorkers")
    message.timeout = _whole_number(form, "timeout", "Timeout")
    message.max_retries = _whole_number(form, "max_retries", "MaxRetries")
    names = [n.strip() for n in form.get("connections", "").replace(",", "\n").splitlines()]
    message.connections.Clear()
    message.connections.connections.extend(n for n in names if n)
    message.default_arguments.clear()
    message.default_arguments.update(_arguments(form.get("default_arguments", "")))


def _editable_script(job: Any) -> str:
    """The uploaded script's name of a job the form may edit the script of; "" for a visual job
    (its script is generated) or a script read from the server's script root."""
    location = job.command.script_location
    if job.code_gen_configuration_nodes or not location.startswith(UPLOADED_PREFIX):
        return ""
    return location.removeprefix(UPLOADED_PREFIX)


def _job_form_values(job: Any) -> dict[str, str]:
    return {
        "description": job.description,
        "role": job.role,
        "command": job.command.name or "glueetl",
        "worker_type": job.worker_type,
        "number_of_workers": str(job.number_of_workers),
        "timeout": str(job.timeout),
        "max_retries": str(job.max_retries),
        "connections": "\n".join(job.connections.connections),
        "default_arguments": "\n".join(
            f"{k}={v}" for k, v in sorted(job.default_arguments.items())
        ),
        "script_name": _editable_script(job),
        "script_location": job.command.script_location,
    }


def _http_status(exc: ApiError) -> int:
    return {
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.ALREADY_EXISTS: 409,
        grpc.StatusCode.FAILED_PRECONDITION: 409,
    }.get(exc.code, 502)


def _invalid(message: str) -> ApiError:
    """A form value the console itself refuses, shown as the API would refuse it."""
    return ApiError("InvalidInputException", message, grpc.StatusCode.INVALID_ARGUMENT)


def _follow_events(answer: audit_pb2.FollowAuditEventsResponse) -> list[Any]:
    return list(answer.events)


def _event_row(event: Any) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "time": _ts(event.event_time),
        "principal": event.principal_name or event.principal,
        "action": event.action,
        "resource": event.resource,
        "outcome": _outcome(event.outcome),
        "trace_id": event.trace_id,
        "status": event.status_message,
    }


def _history(runs: Any) -> list[dict[str, Any]]:
    """Bars of the run-history chart, oldest first: each run's duration and state."""
    bars = []
    for run in reversed(list(runs)):
        seconds = run.execution_time
        if not seconds and run.started_on.seconds:
            end = run.completed_on.seconds or run.last_modified_on.seconds
            seconds = max(end - run.started_on.seconds, 0)
        bars.append({"id": run.id, "seconds": seconds, "state": _state(run.job_run_state)})
    longest = max((b["seconds"] for b in bars), default=0) or 1
    for i, bar in enumerate(bars):
        bar["x"] = i * 12
        bar["height"] = max(round(80 * bar["seconds"] / longest), 2)
        bar["y"] = 80 - bar["height"]
    return bars


def _waterfall(spans: list[Any]) -> list[dict[str, Any]]:
    """Bars of a waterfall: each span's offset and width in percent of the trace's span."""
    if not spans:
        return []
    spans = sorted(spans, key=lambda e: (e.event_time.ToNanoseconds(), e.seq))
    first = min(e.event_time.ToNanoseconds() for e in spans)
    last = max((e.end_time.ToNanoseconds() or e.event_time.ToNanoseconds()) for e in spans)
    total = max(last - first, 1)
    depth: dict[str, int] = {}
    bars = []
    for event in spans:
        start = event.event_time.ToNanoseconds()
        end = event.end_time.ToNanoseconds() or start
        level = depth.get(event.parent_span_id, -1) + 1 if event.parent_span_id else 0
        depth[event.span_id] = level
        bars.append(
            {
                "name": event.name or event.action,
                "action": event.action,
                "resource": event.resource,
                "principal": event.principal_name or event.principal,
                "outcome": _outcome(event.outcome),
                "left": round(100 * (start - first) / total, 2),
                "width": max(round(100 * (end - start) / total, 2), 0.5),
                "ms": round((end - start) / 1e6, 1),
                "level": level,
                "kind": event.kind,
            }
        )
    return bars
