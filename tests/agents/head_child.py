"""A stand-in control plane that only connects to its embedded Ray head, for the head test.

    python -m tests.agents.head_child connect|stop DATA_DIR [WORK_DIR]

connect: starts (or re-attaches to) the head, prints {"address": ...}, then waits to be killed.
stop: re-attaches, prints {"address": ...}, stops the head, prints {"stopped": N}.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from sluice.agents.cluster import RayCluster
from sluice.agents.config import AgentsConfig


def main(mode: str, data_dir: str, work_dir: str | None = None) -> int:
    config = AgentsConfig(data_dir=Path(data_dir), work_dir=Path(work_dir) if work_dir else None)
    cluster = RayCluster(config)
    print(json.dumps({"address": cluster.connect()}), flush=True)
    if mode == "connect":
        threading.Event().wait()
        return 1
    print(json.dumps({"stopped": cluster.stop()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
