"""Job runs: start, read, list and stop them, and the warm pool they run in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from sluice.jobs.v1 import jobs_pb2, types_pb2
from sluice.sdk.jobs._base import JobsBase

# The most runs one BatchStopJobRun call may name, as in Glue; longer lists are split.
MAX_STOP_BATCH = 25
NOT_REPORTED = "NotReported"


@dataclass(frozen=True)
class StopResult:
    """What stopping one run did.

    Attributes:
        job_name: The run's job.
        run_id: The run.
        error_code: Empty when the stop was accepted (the run is STOPPING, then STOPPED);
            else Glue's exception name, e.g. EntityNotFoundException.
        error_message: Why it could not be stopped.
    """

    job_name: str
    run_id: str
    error_code: str = ""
    error_message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the stop was accepted."""
        return not self.error_code


class RunsMixin(JobsBase):
    """Run calls of JobsClient."""

    def start_run(
        self,
        job_name: str,
        arguments: Mapping[str, str] | None = None,
        *,
        timeout: int | None = None,
        worker_type: str | None = None,
        number_of_workers: int | None = None,
        previous_run_id: str | None = None,
        job_run_queuing_enabled: bool | None = None,
        notify_delay_after: int | None = None,
    ) -> str:
        """Starts a run of a job.

        Args:
            job_name: The job.
            arguments: Glue-style arguments, e.g. {"--day": "2024-03-01"}, merged over the job's
                default_arguments; its non_overridable_arguments win.
            timeout: Minutes the run may take; the job's when None.
            worker_type: Standard, G.1X, G.2X or G.4X; the job's when None.
            number_of_workers: The job's when None.
            previous_run_id: To retry a finished run: its id. The new run is its next attempt.
            job_run_queuing_enabled: With True, a run that finds no room waits (WAITING) in its
                account's queue instead of failing; the job's when None.
            notify_delay_after: Minutes after which a run still running becomes a DELAYED
                run event (Glue's NotificationProperty); the job's when None.

        Returns:
            The new run's id.

        Raises:
            EntityNotFound: There is no such job.
            ConcurrentRunsExceeded: The job already has max_concurrent_runs active runs (a
                ResourceNumberLimitExceeded).
            InvalidInput: An argument key is not --name, or a value is out of range.
        """
        request = jobs_pb2.StartJobRunRequest(
            job_name=job_name,
            job_run_id=previous_run_id or "",
            arguments=dict(arguments or {}),
            timeout=timeout or 0,
            worker_type=worker_type or "",
            number_of_workers=number_of_workers or 0,
            job_run_queuing_enabled=job_run_queuing_enabled,
            notification_property=(
                None
                if notify_delay_after is None
                else types_pb2.JobNotificationProperty(notify_delay_after=notify_delay_after)
            ),
        )
        response: jobs_pb2.StartJobRunResponse = self._call(self._stub.StartJobRun, request)
        return response.job_run_id

    def get_run(
        self, job_name: str, run_id: str, *, predecessors_included: bool = False
    ) -> types_pb2.JobRun:
        """The run `run_id` of job `job_name`.

        Raises:
            EntityNotFound: There is no such job or run.
        """
        request = jobs_pb2.GetJobRunRequest(
            job_name=job_name, run_id=run_id, predecessors_included=predecessors_included
        )
        response: jobs_pb2.GetJobRunResponse = self._call(self._stub.GetJobRun, request)
        return response.job_run

    def list_runs(
        self, job_name: str, *, page_size: int | None = None
    ) -> Iterator[types_pb2.JobRun]:
        """The runs of a job, newest first, fetching pages as the iteration needs them.

        Args:
            job_name: The job.
            page_size: Runs per call (at most 200); the server's default when None.

        Raises:
            EntityNotFound: There is no such job (raised when iteration starts).
        """
        request = jobs_pb2.GetJobRunsRequest(job_name=job_name, max_results=page_size or 0)
        return self._paginate(self._stub.GetJobRuns, request, "job_runs")

    def stop_runs(self, job_name: str, run_ids: Iterable[str]) -> list[StopResult]:
        """Asks runs of a job to stop, in calls of at most 25.

        A run that cannot be stopped (finished, or unknown) does not prevent the others.

        Args:
            job_name: The job.
            run_ids: The runs to stop.

        Returns:
            One result per distinct run id, in the order given.

        Raises:
            TypeError: `run_ids` is a single string.
        """
        if isinstance(run_ids, str | bytes):
            raise TypeError("run_ids: expected a sequence of run ids, not a single string")
        wanted = list(dict.fromkeys(run_ids))
        stopped: set[str] = set()
        failed: dict[str, types_pb2.BatchStopJobRunError] = {}
        for start in range(0, len(wanted), MAX_STOP_BATCH):
            request = jobs_pb2.BatchStopJobRunRequest(
                job_name=job_name, job_run_ids=wanted[start : start + MAX_STOP_BATCH]
            )
            response: jobs_pb2.BatchStopJobRunResponse = self._call(
                self._stub.BatchStopJobRun, request
            )
            stopped.update(s.job_run_id for s in response.successful_submissions)
            failed.update((e.job_run_id, e) for e in response.errors)
        return [_stop_result(job_name, run_id, stopped, failed) for run_id in wanted]

    def pool_status(self) -> types_pb2.PoolStatus:
        """The warm pool of environments: its target size and what each environment is doing."""
        response: jobs_pb2.GetPoolStatusResponse = self._call(
            self._stub.GetPoolStatus, jobs_pb2.GetPoolStatusRequest()
        )
        return response.pool_status


def _stop_result(
    job_name: str,
    run_id: str,
    stopped: set[str],
    failed: Mapping[str, types_pb2.BatchStopJobRunError],
) -> StopResult:
    error = failed.get(run_id)
    if error is not None:
        return StopResult(
            job_name, run_id, error.error_detail.error_code, error.error_detail.error_message
        )
    if run_id in stopped:
        return StopResult(job_name, run_id)
    return StopResult(job_name, run_id, NOT_REPORTED, "the server did not report on this run")
