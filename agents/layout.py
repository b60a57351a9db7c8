"""Where the agents keep files: a private area (the data dir) and a work area.

The private area is read by the agent alone; the work area is where the embedded head's
processes (job code included) read and write. Without a work dir both are the data dir.

private  <data>/ray/            cluster.json, head-start.log, head.lock, auth_token (0600)
         <data>/runs/RUN_ID     status.json: the final status the agent recorded
work     <work>/ray/            auth_token (0600, a copy the head's processes read), tmp/
         <work>/environments/ID environment working dir: tmp/, spark-local/, environment.log
         <work>/runs/RUN_ID     run working dir: script, stdout/stderr/driver logs, status.json
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sluice.agents.config import AgentsConfig
from sluice.agents.runs import LogStream, check_run_id


@dataclass(frozen=True)
class DataLayout:
    """Paths under one data dir and one work area; nothing is created until asked.

    Attributes:
        data_dir: the private area.
        work_dir: the work area; None is the data dir.
    """

    data_dir: Path
    work_dir: Path | None = None

    @property
    def work_area(self) -> Path:
        return self.work_dir if self.work_dir is not None else self.data_dir

    @property
    def separate(self) -> bool:
        """Whether the work area is not the data dir."""
        return self.work_area != self.data_dir

    # The private area.

    @property
    def ray_dir(self) -> Path:
        return self.data_dir / "ray"

    @property
    def cluster_file(self) -> Path:
        """Address and ports of the embedded head, for re-attaching after a restart."""
        return self.ray_dir / "cluster.json"

    @property
    def token_file(self) -> Path:
        """The embedded head's token as the agent keeps it (and connects with)."""
        return self.ray_dir / "auth_token"

    @property
    def head_log(self) -> Path:
        return self.ray_dir / "head-start.log"

    def final_status_file(self, run_id: str) -> Path:
        """A run's final status as the agent recorded it."""
        return self.data_dir / "runs" / check_run_id(run_id) / "status.json"

    # The work area.

    @property
    def work_ray_dir(self) -> Path:
        return self.work_area / "ray"

    @property
    def work_token_file(self) -> Path:
        """The token the head's processes read (the private one without a separate work area)."""
        return self.work_ray_dir / "auth_token"

    @property
    def cluster_tmp_dir(self) -> Path:
        """TMPDIR of every process of the embedded head (workers and JVMs included)."""
        return self.work_ray_dir / "tmp"

    @property
    def environments_dir(self) -> Path:
        return self.work_area / "environments"

    @property
    def runs_dir(self) -> Path:
        return self.work_area / "runs"

    def environment_dir(self, environment_id: str) -> Path:
        return self.environments_dir / environment_id

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / check_run_id(run_id)

    def run_log(self, run_id: str, stream: LogStream) -> Path:
        return self.run_dir(run_id) / f"{stream.value}.log"

    def run_status_file(self, run_id: str) -> Path:
        """The status the run's environment recorded (written by the head's processes)."""
        return self.run_dir(run_id) / "status.json"


def layout_of(config: AgentsConfig) -> DataLayout:
    """The layout of a configuration."""
    return DataLayout(config.data_dir, config.work_dir)
