"""More than one Ray node, measured: runs tests/integration/test_two_nodes_on_ray.py (a Ray head
and a second node joined to it on this machine, a server attached with --ray-address, runs of two
tuples placed one on each node, the second node killed with SIGKILL mid-run, its run retried on
the head, the node joined again) and prints its figures as one JSON line:

- placement: the node of each tuple's environment ("head", "second").
- first_warm_s: server start -> the pool's first warm environment on the cluster.
- loss_to_failed_s: SIGKILL of the second node -> its run FAILED; lost_run_error says why.
- retry_start_after_room_s: the head's run SUCCEEDED -> the lost run's retry RUNNING on the
  head (it waited in the queue until then; an idle environment made way).
- rejoin_to_warm_s: `ray start --address …` again -> a warm environment placed on that node.
- total_s, load_1m, passed (the test's assertions held), test_s.

    flock /tmp/sluice-ray.lock .venv/bin/python benchmarks/multi_node.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/integration/test_two_nodes_on_ray.py"
PREFIX = "MULTI_NODE "


def main() -> int:
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", TEST, "-s", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, "SLUICE_MULTI_NODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    figures: dict[str, object] = {}
    for line in result.stdout.splitlines():
        if line.startswith(PREFIX):
            figures = json.loads(line.removeprefix(PREFIX))
    figures["passed"] = result.returncode == 0
    figures["test_s"] = round(time.monotonic() - began, 1)
    figures.setdefault("load_1m", round(os.getloadavg()[0], 1))
    if result.returncode != 0:
        print(result.stdout[-6000:], file=sys.stderr)
    print(json.dumps(figures))
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
