"""The entry point of the SDK: a client owning one channel to a Sluice server."""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import Self

import grpc

from sluice.sdk.audit import AuditClient
from sluice.sdk.auth import BearerToken
from sluice.sdk.catalog import CatalogClient
from sluice.sdk.config import ClientOptions
from sluice.sdk.crawlers import CrawlersClient
from sluice.sdk.iam import IamClient
from sluice.sdk.jobs import JobsClient
from sluice.sdk.notifications import NotificationsClient
from sluice.sdk.scripts import ScriptsClient
from sluice.sdk.trace_context import TraceParent
from sluice.sdk.triggers import TriggersClient
from sluice.sdk.workflows import WorkflowsClient


class Client:
    """A connection to a Sluice server. Use it as a context manager, or call `close`.

    The channel connects lazily: an unreachable server shows at the first call, which
    raises `Unavailable`.

    Args:
        options: How to reach the server; `options.address` is resolved from the
            environment when None.
    """

    def __init__(self, options: ClientOptions) -> None:
        self._options = options
        self._address = options.resolved_address()
        credentials = options.resolved_credentials()
        if credentials is None:
            raw = grpc.insecure_channel(self._address, options=options.channel_options())
        else:
            raw = grpc.secure_channel(self._address, credentials, options=options.channel_options())
        headers: list[grpc.UnaryUnaryClientInterceptor] = []
        if token := options.resolved_token():
            headers.append(BearerToken(token))
        if traceparent := options.resolved_traceparent():
            headers.append(TraceParent(traceparent))
        self._channel = grpc.intercept_channel(raw, *headers) if headers else raw
        self._catalog = CatalogClient(self._channel, options, self._address)
        self._jobs = JobsClient(self._channel, options, self._address)
        self._triggers = TriggersClient(self._channel, options, self._address)
        self._workflows = WorkflowsClient(self._channel, options, self._address)
        self._crawlers = CrawlersClient(self._channel, options, self._address)
        self._scripts = ScriptsClient(self._channel, options, self._address)
        self._iam = IamClient(self._channel, options, self._address)
        self._audit = AuditClient(self._channel, options, self._address)
        self._notifications = NotificationsClient(self._channel, options, self._address)

    @property
    def address(self) -> str:
        """The host:port this client dials."""
        return self._address

    @property
    def options(self) -> ClientOptions:
        """The options the client was made with."""
        return self._options

    @property
    def catalog(self) -> CatalogClient:
        """The Data Catalog: databases, tables, partitions, connections and functions."""
        return self._catalog

    @property
    def jobs(self) -> JobsClient:
        """Jobs: definitions, scripts, runs and their logs, and the warm pool."""
        return self._jobs

    @property
    def triggers(self) -> TriggersClient:
        """Triggers: jobs started on a schedule, when other jobs end, on demand, or on events."""
        return self._triggers

    @property
    def workflows(self) -> WorkflowsClient:
        """Workflows: graphs of triggers and jobs, run as a whole."""
        return self._workflows

    @property
    def crawlers(self) -> CrawlersClient:
        """Crawlers: tables and partitions inferred from data, and custom classifiers."""
        return self._crawlers

    @property
    def scripts(self) -> ScriptsClient:
        """Script generation (Glue's GetMapping, GetPlan, CreateScript, GetDataflowGraph)."""
        return self._scripts

    @property
    def audit(self) -> AuditClient:
        """The audit trail: who called what, on what, and how it ended."""
        return self._audit

    @property
    def notifications(self) -> NotificationsClient:
        """Run notifications: run events (followed or listed) and the account's webhook."""
        return self._notifications

    @property
    def iam(self) -> IamClient:
        """Identity and access: principals, API tokens and policies."""
        return self._iam

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled. Closing twice is harmless."""
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(address={self._address!r})"


def connect(address: str | None = None, *, options: ClientOptions | None = None) -> Client:
    """A client of the Sluice server at `address`.

    Args:
        address: host:port of the server. When None: `options.address`, else the
            SLUICE_ADDRESS environment variable, else localhost:50051.
        options: Deadlines, message size, metadata, credentials and default catalog id.

    Returns:
        A Client, to be closed (or used in a `with` block).

    Example:
        >>> with connect("localhost:50051") as client:  # doctest: +SKIP
        ...     client.catalog.create_database({"name": "sales"})
    """
    resolved = options or ClientOptions()
    if address is not None:
        resolved = dataclasses.replace(resolved, address=address)
    return Client(resolved)
