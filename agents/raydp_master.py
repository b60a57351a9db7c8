"""RayDP's Spark master actor, with its JVM gateway authenticated and in the sandbox's ports.

RayDP 1.6.5's master actor starts a JVM (AppMasterEntryPoint) whose py4j gateway listens on an
ephemeral port with no authentication: any local process that found the port could drive that
JVM, which holds the environment's Spark secret. This subclass starts the same JVM classes
through py4j's own GatewayServer instead, with a token only this actor knows (read from the
JVM's stdout) and on a port of the sandbox's Spark ports (sluice.agents.ports), and makes
AppMasterEntryPoint the gateway's entry point as RayDP expects. `install()` makes RayDP create
this actor instead of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import ray
from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
from raydp import versions
from raydp.spark import ray_cluster
from raydp.spark import ray_cluster_master as master

from sluice.agents.ports import spark_ports

_LOCALHOST = "127.0.0.1"
# How long a gateway JVM may take to bind and print its port (it starts in seconds).
_GATEWAY_START_S = 60.0
# RayDP's master, before @ray.remote made an actor class of it.
_RayDPSparkMaster: type = (
    master.RayDPSparkMaster.__ray_metadata__.modified_class.__ray_actor_class__
)


class _AuthenticatedGatewayMaster(_RayDPSparkMaster):  # type: ignore[misc, valid-type]
    """RayDPSparkMaster whose JVM gateway needs a token and listens in the sandbox's ports."""

    def _launch_gateway(self, class_path: str, popen_kwargs: dict[str, Any] | None = None) -> Any:
        javaopts = _java_options(self._configs)
        errors = []
        # One gateway at a time per sandbox, from the port probe until its JVM has bound: two
        # environments starting together probed the same free port, and the JVM that lost the
        # bind neither printed a port nor exited, so launch_gateway waited on it for ever.
        with _gateway_lock():
            launched = None
            for port in _candidate_ports():
                # A JVM that loses its port to another process (a Spark driver binding in the
                # same ports) hangs the same way: killed after a while, it reads as a failure.
                watchdog = threading.Timer(_GATEWAY_START_S, _kill_gateway_jvm, args=(port,))
                watchdog.start()
                try:
                    launched = launch_gateway(
                        port=port,
                        classpath=class_path,
                        javaopts=javaopts,
                        die_on_exit=True,
                        enable_auth=True,
                        return_proc=True,
                    )
                except (ValueError, OSError) as exc:
                    # The port was taken meanwhile (the JVM exits without printing one).
                    errors.append(f"{port}: {exc!r}")
                    continue
                finally:
                    watchdog.cancel()
                break
        if launched is not None:
            port_, token, proc = launched
            gateway = JavaGateway(
                gateway_parameters=GatewayParameters(
                    address=_LOCALHOST, port=port_, auth_token=token, auto_convert=True
                )
            )
            gateway.entry_point = gateway.jvm.org.apache.spark.deploy.raydp.AppMasterEntryPoint()
            gateway.proc = proc
            return gateway
        raise RuntimeError("cannot start RayDP's gateway JVM: " + "; ".join(errors[-3:]))


SparkMaster = ray.remote(_AuthenticatedGatewayMaster)


def install() -> None:
    """Make RayDP create SparkMaster as each Spark session's master actor (in this process)."""
    ray_cluster.RayDPSparkMaster = SparkMaster


def _java_options(configs: dict[str, str]) -> list[str]:
    """The JVM options RayDP gives its gateway JVM (RayDPSparkMaster._launch_gateway)."""
    options = shlex.split(configs.get(master.RAYDP_APPMASTER_EXTRA_JAVA_OPTIONS, "").strip())
    logging_dir = ray._private.worker._global_node.get_logs_dir_path()
    return [
        *options,
        "-javaagent:" + configs[master.SPARK_JAVAAGENT],
        "-Dray.logging.dir=" + logging_dir,
        "-D"
        + master.SPARK_RAY_LOG4J_FACTORY_CLASS_KEY
        + "="
        + configs[master.SPARK_RAY_LOG4J_FACTORY_CLASS_KEY],
        "-D"
        + versions.RAY_LOG4J_CONFIG_FILE_NAME_KEY
        + "="
        + configs[master.RAY_LOG4J_CONFIG_FILE_NAME],
    ]


def _kill_gateway_jvm(port: int) -> None:
    """Kill this process's gateway JVM started for port, if it still runs."""
    for child in psutil.Process(os.getpid()).children():
        with contextlib.suppress(psutil.Error):
            command = child.cmdline()
            if "py4j.GatewayServer" in command and str(port) in command:
                child.kill()


@contextlib.contextmanager
def _gateway_lock() -> Iterator[None]:
    """An exclusive lock of this sandbox's Ray (a file in its temp root, the sandbox user's)."""
    node = ray._private.worker._global_node
    path = Path(node.get_session_dir_path()).parent / "sluice-gateway.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _candidate_ports() -> list[int]:
    """Ports of the sandbox's Spark ports free now, first few; [0] (ephemeral) outside one."""
    ports = spark_ports()
    if ports is None:
        return [0]
    free = []
    for port in range(ports[0], ports[1] + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(OSError):
                probe.bind((_LOCALHOST, port))
                free.append(port)
        if len(free) == 5:
            break
    return free
