"""The client source of the door inside a job run's environment: the current run's credentials.

An environment's Spark session (and so its Hive client's one connection to the door) outlives
its runs, so the door cannot take a principal per connection: it acts as whichever run is
executing, from that run's SLUICE_ADDRESS / SLUICE_TOKEN, and refuses every call between runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from sluice.sdk.client import Client
from sluice.sdk.config import (
    ADDRESS_ENV,
    TLS_CA_ENV,
    TLS_CERT_ENV,
    TLS_KEY_ENV,
    TOKEN_ENV,
    ClientOptions,
)
from sluice.sdk.errors import Unauthenticated


class RunScopedClients:
    """A ClientSource acting as the run set by `act_as`, until `clear`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Client | None = None

    def act_as(self, run_env: Mapping[str, str]) -> None:
        """Act with the credentials of a run's environment variables from now on."""
        options = ClientOptions(
            address=run_env.get(ADDRESS_ENV) or None,
            token=run_env.get(TOKEN_ENV, ""),
            tls_ca_file=run_env.get(TLS_CA_ENV) or None,
            tls_cert_file=run_env.get(TLS_CERT_ENV) or None,
            tls_key_file=run_env.get(TLS_KEY_ENV) or None,
        )
        client = Client(options)
        with self._lock:
            previous, self._client = self._client, client
        if previous is not None:
            previous.close()

    def clear(self) -> None:
        """Refuse every call until the next `act_as`: the run is over."""
        with self._lock:
            previous, self._client = self._client, None
        if previous is not None:
            previous.close()

    def client(self) -> Client:
        with self._lock:
            client = self._client
        if client is None:
            raise Unauthenticated("no job run is executing in this environment")
        return client
