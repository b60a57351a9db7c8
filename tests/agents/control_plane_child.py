"""A stand-in control plane in a process of its own, for the restart test.

    python -m tests.agents.control_plane_child launch|recover DATA_DIR RAY_ADDRESS TOKEN_PATH

launch: starts a run that waits for a file named `release` in its working dir, prints
{"event": "launched", ...} and then waits to be killed (SIGKILL: a crashed control plane).
recover: takes over what the first process left, prints {"event": "recovered", ...}, follows the
run to its end, prints {"event": "finished", ...}, destroys its environments and exits.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from sluice.agents.config import AgentsConfig, PoolConfig, RayConfig
from sluice.agents.isolation import IsolationTuple
from sluice.agents.runs import RunRequest
from sluice.agents.supervisor import RunSupervisor

RUN_ID = "jr_restart"
WAIT_FOR_RELEASE = """
import os, time
print("waiting for release", flush=True)
deadline = time.time() + 240
while not os.path.exists("release"):
    if time.time() > deadline:
        raise TimeoutError("never released")
    time.sleep(0.1)
print("released", flush=True)
"""


def _say(**values: object) -> None:
    print(json.dumps(values), flush=True)


def main(mode: str, data_dir: str, address: str, token_path: str) -> int:
    config = AgentsConfig(
        data_dir=Path(data_dir),
        ray=RayConfig(address=address, auth_token_path=Path(token_path)),
        pool=PoolConfig(size=0),
        poll_interval_s=0.25,
    )
    supervisor = RunSupervisor(config)
    if mode == "launch":
        supervisor.start()
        launch = supervisor.launch(
            RunRequest(RUN_ID, WAIT_FOR_RELEASE, timeout_s=600),
            IsolationTuple("999", "role-restart"),
        )
        _say(
            event="launched",
            environment_id=launch.environment_id,
            warm=launch.warm,
            state=launch.progress.state.value,
        )
        threading.Event().wait()
        return 1
    reattached = supervisor.start()
    _say(
        event="recovered",
        runs={p.run_id: p.state.value for p in reattached},
        environments=[info.environment_id for info in supervisor.environments()],
    )
    deadline = time.monotonic() + 240
    while not (progress := supervisor.progress(RUN_ID)).state.is_terminal():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    _say(event="finished", state=progress.state.value, error=progress.error_message)
    supervisor.shutdown(destroy_environments=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
