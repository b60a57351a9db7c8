"""Where the agents keep files in the data dir.

<data>/ray/            embedded head: cluster.json, auth_token (0600), tmp/, start log
<data>/environments/ID environment working dir: tmp/, spark-local/, environment.log
<data>/runs/RUN_ID     run working dir: script, stdout/stderr/driver logs, status.json
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agents.runs import LogStream, check_run_id


@dataclass(frozen=True)
class DataLayout:
    """Paths under one data dir; nothing is created until asked."""

    data_dir: Path

    @property
    def ray_dir(self) -> Path:
        return self.data_dir / "ray"

    @property
    def cluster_file(self) -> Path:
        """Address and ports of the embedded head, for re-attaching after a restart."""
        return self.ray_dir / "cluster.json"

    @property
    def token_file(self) -> Path:
        return self.ray_dir / "auth_token"

    @property
    def head_log(self) -> Path:
        return self.ray_dir / "head-start.log"

    @property
    def cluster_tmp_dir(self) -> Path:
        """TMPDIR of every process of the embedded head (workers and JVMs included)."""
        return self.ray_dir / "tmp"

    @property
    def environments_dir(self) -> Path:
        return self.data_dir / "environments"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def environment_dir(self, environment_id: str) -> Path:
        return self.environments_dir / environment_id

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / check_run_id(run_id)

    def run_log(self, run_id: str, stream: LogStream) -> Path:
        return self.run_dir(run_id) / f"{stream.value}.log"

    def run_status_file(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "status.json"
