"""The operations of jobs, runs, run logs and scripts, independent of how they are stored.

Job, run and script methods are scoped by account (the caller resolves it). Errors are the
domain errors of common.errors. List methods take a PageRequest and return a Page whose
next_token is opaque and tamper-checked. Every change of a run's state is a conditional update
(`transition`): a run that is no longer in the expected state is left alone. The scheduler's
changes carry the Fence of its lease: once another server has taken the lease over, they raise
LeaseLost and change nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from enum import StrEnum

from sluice.common.paging import Page, PageRequest
from sluice.control_plane.jobs.leases import Fence
from sluice.control_plane.jobs.model import (
    Job,
    JobInput,
    JobRun,
    LogEntry,
    LogLine,
    LogStream,
    RunInput,
    RunState,
)


class LaunchClaim(StrEnum):
    """What claim_launch found."""

    # The run is STARTING and this fence's holder may launch it.
    CLAIMED = "CLAIMED"
    # A scheduler under an earlier token began launching it and was replaced: whether the run
    # executes is for the executor to say; launching it again might run it twice.
    INTERRUPTED = "INTERRUPTED"
    # The run is no longer STARTING (stopped, timed out, deleted): nothing to launch.
    NOT_STARTING = "NOT_STARTING"


class JobStore(ABC):
    # Jobs
    @abstractmethod
    def create_job(self, account: str, job_input: JobInput) -> Job:
        """AlreadyExists if the account has a job of that name."""

    @abstractmethod
    def get_job(self, account: str, name: str) -> Job: ...

    @abstractmethod
    def get_jobs(self, account: str, page: PageRequest) -> Page[Job]:
        """By name."""

    @abstractmethod
    def list_job_names(
        self, account: str, page: PageRequest, tags: Mapping[str, str] | None = None
    ) -> Page[str]:
        """By name; with tags, only jobs carrying every one of them."""

    @abstractmethod
    def update_job(self, account: str, job_input: JobInput) -> Job:
        """Replaces the definition of the job named job_input.name. Tags are not part of it:
        InvalidInput if job_input has any. Runs already started keep what they started with."""

    @abstractmethod
    def delete_job(self, account: str, name: str) -> None:
        """As Glue: deletes the job and its finished runs, and is a no-op for a missing job.

        Its active runs are moved to STOPPING, for the scheduler to stop; they are purged once
        stopped (purge_orphan_runs).
        """

    # Runs
    @abstractmethod
    def create_run(self, account: str, job_name: str, run_input: RunInput) -> JobRun:
        """A new STARTING run, its arguments merged over the job's (non-overridable ones win).

        ConcurrentRunsExceeded if the job already has max_concurrent_runs active runs,
        decided atomically with the insert. run_input.previous_run_id must name a finished run
        of the job; the new run is its next attempt.
        """

    @abstractmethod
    def get_run(self, account: str, job_name: str, run_id: str) -> JobRun: ...

    @abstractmethod
    def get_runs(self, account: str, job_name: str, page: PageRequest) -> Page[JobRun]:
        """Newest first."""

    @abstractmethod
    def run_is_active(self, run_id: str) -> bool:
        """Whether the run exists and has not ended (its temporary credentials hold)."""

    @abstractmethod
    def list_active_runs(self) -> Sequence[JobRun]:
        """Every non-terminal run of every account, oldest first: the scheduler's work list."""

    @abstractmethod
    def transition(
        self,
        run_id: str,
        from_states: Collection[RunState],
        to_state: RunState,
        *,
        error_message: str | None = None,
        environment_id: str | None = None,
        warm_start: bool | None = None,
        execution_time: int | None = None,
        retry: bool = False,
        fence: Fence | None = None,
    ) -> bool:
        """Moves the run to to_state if it is in one of from_states; False (and no change) if not.

        Fields given are written with the state. Entering a terminal state sets completed_on,
        execution_time (measured from when it became RUNNING unless given) and frees the run's
        slot of its job's max_concurrent_runs, all in the same transaction. With retry, a run
        ending FAILED or TIMEOUT with retries left hands its slot to its next attempt, a new
        STARTING run created in that transaction. Entering WAITING clears the run's launch
        claim (nothing executes it). ValueError if ALLOWED_TRANSITIONS does not permit the
        change (a caller's bug). With a fence, LeaseLost (and no change) if its token is no
        longer its lease's.
        """

    @abstractmethod
    def claim_launch(self, run_id: str, fence: Fence, *, adopt: bool = False) -> LaunchClaim:
        """Records that fence's holder launches the STARTING run, before it does.

        CLAIMED if the run had no launch begun or one begun under this same token (a launch
        retried by the same scheduler); INTERRUPTED, with nothing changed, if it was begun
        under another token, unless adopt (the executor runs it already, so launching it is
        idempotent), which claims it anyway. LeaseLost if fence is no longer its lease's.
        """

    @abstractmethod
    def release_launches(self, fence: Fence) -> int:
        """Clears the launch claims fence's holder made on runs still STARTING, so that any
        scheduler may launch them; for when its executor has shut down with nothing of them
        running. Returns how many; LeaseLost if fence is no longer its lease's."""

    @abstractmethod
    def request_stop(self, account: str, job_name: str, run_id: str) -> JobRun:
        """Moves an active run to STOPPING (no-op if it already is); FailedPrecondition if it
        has finished."""

    @abstractmethod
    def purge_orphan_runs(self) -> int:
        """Deletes finished runs whose job was deleted; returns how many."""

    # Run logs
    @abstractmethod
    def append_logs(self, run_id: str, lines: Sequence[LogLine], cursor: str) -> None:
        """Stores lines after the run's last entry, numbered in order, and records cursor
        (where the executor's stream was read up to) in the same transaction."""

    @abstractmethod
    def get_run_logs(
        self,
        account: str,
        job_name: str,
        run_id: str,
        page: PageRequest,
        *,
        stream: LogStream | None = None,
        after_seq: int = 0,
    ) -> Page[LogEntry]:
        """Entries by seq, of one stream or all; after_seq starts past an entry already seen
        (for tailing); a next_token takes precedence over it."""

    # Scripts
    @abstractmethod
    def put_script(self, account: str, name: str, content: bytes) -> str:
        """Stores (or replaces) a UTF-8 script; returns its sluice://scripts/NAME location.
        InvalidInput if it is too large or not UTF-8."""

    @abstractmethod
    def get_script(self, account: str, name: str) -> bytes: ...
