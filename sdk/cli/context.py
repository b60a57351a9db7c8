"""What every command gets from the `sluice` group: client options, output format, a client."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import click

from sluice.sdk.catalog import CatalogClient
from sluice.sdk.client import Client, connect
from sluice.sdk.config import ClientOptions
from sluice.sdk.jobs import JobsClient

Connector = Callable[[ClientOptions], Client]


def default_connector(options: ClientOptions) -> Client:
    """Connects the SDK client the commands use."""
    return connect(options=options)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class CliContext:
    """The state of one `sluice` invocation. The client is made on first use, closed at exit.

    Args:
        options: How to reach the server.
        output: How commands print what they get.
        connector: Makes the client; tests pass a stand-in.
    """

    def __init__(
        self,
        options: ClientOptions,
        output: OutputFormat,
        connector: Connector = default_connector,
    ) -> None:
        self.options = options
        self.output = output
        self._connector = connector
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """The client, connected on first use."""
        if self._client is None:
            self._client = self._connector(self.options)
        return self._client

    @property
    def catalog(self) -> CatalogClient:
        """The catalog part of the client, connecting it on first use."""
        return self.client.catalog

    @property
    def jobs(self) -> JobsClient:
        """The jobs part of the client, connecting it on first use."""
        return self.client.jobs

    def close(self) -> None:
        """Closes the client if one was made."""
        if self._client is not None:
            self._client.close()
            self._client = None


pass_cli = click.make_pass_decorator(CliContext)
