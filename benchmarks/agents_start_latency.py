"""Start latency of runs at the agents level, and the memory of an idle warm environment.

    .venv/bin/python benchmarks/agents_start_latency.py [--runs 20] [--pool-claims 3] [--cold 2]

Starts an embedded Ray head with a warm pool of one in a fresh data dir, then measures:
- warm claim -> first line of the script: launch() of a run on an environment already bound to
  its tuple (--runs times), and on a fresh warm environment from the pool (--pool-claims times,
  each waiting for the pool to refill);
- cold start -> first line: a spec the pool does not keep, so the environment starts cold;
- RSS of an idle warm environment, summed over all its processes.
Prints one JSON line; everything it started is destroyed at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sluice.agents import processes
from sluice.agents.config import AgentsConfig, EnvironmentSpec, PoolConfig
from sluice.agents.isolation import IsolationTuple
from sluice.agents.pool import SlotState
from sluice.agents.runs import RunRequest
from sluice.agents.supervisor import RunSupervisor

SCRIPT = "x = 1\n"
DEADLINE_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pool-claims", type=int, default=3)
    parser.add_argument("--cold", type=int, default=2)
    options = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="slb-", dir="/tmp"))
    config = AgentsConfig(data_dir=data_dir, pool=PoolConfig(size=1, max_environments=4))
    supervisor = RunSupervisor(config)
    started = time.monotonic()
    try:
        supervisor.start()
        warm_env = _wait_warm(supervisor)
        pids = processes.environment_pids(warm_env)
        rss_mb = processes.total_rss_mb(pids)
        ray_ready_to_warm_s = time.monotonic() - started

        bound = IsolationTuple("100000000001", "bench-bound")
        _first_line(supervisor, "bench_prime", bound)
        reuse = [_first_line(supervisor, f"bench_r{i}", bound) for i in range(options.runs)]
        pool_claims = []
        for i in range(options.pool_claims):
            _wait_warm(supervisor)
            pool_claims.append(
                _first_line(supervisor, f"bench_p{i}", IsolationTuple(f"2000000000{i:02d}", "b"))
            )
        cold = [
            _first_line(
                supervisor,
                f"bench_c{i}",
                IsolationTuple(f"3000000000{i:02d}", "cold"),
                EnvironmentSpec(executor_memory_mb=640),
            )
            for i in range(options.cold)
        ]
        print(
            json.dumps(
                {
                    "warm_claim_to_first_line_ms": _summary(reuse),
                    "pool_warm_claim_to_first_line_ms": _summary(pool_claims),
                    "cold_start_to_first_line_s": [round(ms / 1000, 1) for ms in cold],
                    "idle_warm_env_rss_mb": round(rss_mb),
                    "idle_warm_env_processes": len(pids),
                    "first_warm_env_ready_s": round(ray_ready_to_warm_s, 1),
                }
            )
        )
    finally:
        supervisor.shutdown(destroy_environments=True, stop_cluster=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_warm(supervisor: RunSupervisor) -> str:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        for environment_id, state in supervisor.pool.environment_ids().items():
            if state is SlotState.WARM:
                return environment_id
        time.sleep(0.5)
    raise TimeoutError("no warm environment")


def _first_line(
    supervisor: RunSupervisor,
    run_id: str,
    isolation: IsolationTuple,
    spec: EnvironmentSpec | None = None,
) -> float:
    """Milliseconds from launch() to the first line of the run's script; waits for its end."""
    began = time.time()
    supervisor.launch(RunRequest(run_id, SCRIPT), isolation, spec)
    deadline = time.monotonic() + DEADLINE_S
    while not (progress := supervisor.progress(run_id)).state.is_terminal():
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} did not end")
        time.sleep(0.05)
    if progress.first_line_at is None:
        raise RuntimeError(f"run {run_id} never started its script: {progress.error_message}")
    return (progress.first_line_at - began) * 1000


def _summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
    }


if __name__ == "__main__":
    main()
