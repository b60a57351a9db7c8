"""This process's connection to Ray: lazy, to an embedded head or to an existing cluster."""

from __future__ import annotations

import logging
import os
import threading

import ray
from ray._private import ray_constants
from ray._raylet import AuthenticationTokenLoader
from ray._raylet import Config as RayConfig

from sluice.agents import head, naming, safe_pickle
from sluice.agents.config import AgentsConfig
from sluice.agents.errors import ClusterUnavailable


class RayCluster:
    """Connects this process to Ray on first need; thread-safe.

    Ray's driver connection is per process, so one RayCluster per process. Connecting sets the
    authentication variables of the cluster in this process's environment, where Ray reads them.
    """

    def __init__(self, config: AgentsConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._address: str | None = None
        self._closed = False

    @property
    def config(self) -> AgentsConfig:
        return self._config

    @property
    def embedded(self) -> bool:
        """Whether the cluster is the embedded head of the data dir."""
        return self._config.ray.address is None

    @property
    def address(self) -> str | None:
        """The GCS address once connected, else None."""
        return self._address

    @property
    def connected(self) -> bool:
        return self._address is not None and ray.is_initialized()

    def connect(self) -> str:
        """Start (embedded, if needed) and connect to the cluster; return its GCS address."""
        with self._lock:
            if self._address is not None and ray.is_initialized():
                return self._address
            if self._closed:
                raise ClusterUnavailable("the agent is stopping: Ray is not started any more")
            if self.embedded:
                address = head.start_or_attach(self._config).address
            else:
                address = self._config.ray.address or ""
                if not head.reachable(address):
                    raise ClusterUnavailable(f"nothing answers at the Ray address {address}")
            if self._closed:
                # Closed while the head started: the agent stops it, so do not join it.
                raise ClusterUnavailable("the agent is stopping: Ray is not joined any more")
            if head.is_loopback(address):
                # Ray turns 127.0.0.1 into the routable address unless told, through a flag it
                # reads from the environment at import time; it may be imported already.
                ray_constants.ENABLE_RAY_CLUSTER = False
            if self._config.run_as is not None:
                # The head's workers run job code as another user: nothing they send may run
                # code in this process (root) when unpickled.
                safe_pickle.harden_driver()
            environment = self.client_environment()
            os.environ.update(environment)
            if environment.get("RAY_AUTH_MODE") == "token":
                # Ray caches its authentication settings from the environment; refresh them.
                RayConfig.initialize("")
                AuthenticationTokenLoader.instance().reset_cache()
            if ray.is_initialized():
                current = ray.get_runtime_context().gcs_address
                if current != address:
                    raise ClusterUnavailable(
                        f"this process is already connected to Ray at {current}, not {address}"
                    )
            else:
                try:
                    ray.init(
                        address=address,
                        namespace=naming.CONTROL_NAMESPACE,
                        log_to_driver=False,
                        logging_level=logging.WARNING,
                    )
                except (ConnectionError, RuntimeError) as exc:
                    raise ClusterUnavailable(f"cannot connect to Ray at {address}: {exc}") from exc
                if self._config.run_as is not None:
                    safe_pickle.load_classes_locally()
            self._address = address
            return address

    def answers(self, timeout_s: float = 1.0) -> bool:
        """Whether the connected cluster's GCS takes connections (True if not connected): a cheap
        probe, since a dead head leaves this process's Ray connection looking alive."""
        address = self._address
        return address is None or head.reachable(address, timeout_s)

    def close(self) -> None:
        """Refuse to start or join a cluster from now on (the agent is stopping); a connection
        already made stays usable."""
        # Not under the lock: a connect in progress holds it for as long as `ray start` runs.
        self._closed = True

    def client_environment(self) -> dict[str, str]:
        """Variables another process (e.g. the environment launcher) needs to connect."""
        return head.client_environment(self._config)

    def disconnect(self) -> None:
        """Drop this process's connection; the cluster and its environments keep running."""
        with self._lock:
            if ray.is_initialized():
                ray.shutdown()
            self._address = None

    def stop(self) -> int:
        """Disconnect, and stop the embedded head (no-op for an existing cluster).

        Returns:
            How many head processes were stopped.
        """
        self.disconnect()
        if not self.embedded:
            return 0
        return head.stop(self._config)
