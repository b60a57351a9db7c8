"""The logs of job runs: read page by page, or followed as they are written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sluice.jobs.v1 import jobs_pb2, types_pb2
from sluice.sdk._streams import StreamTail
from sluice.sdk.jobs._base import JobsBase
from sluice.sdk.jobs.states import LogStreamLike, RunState, log_stream


class LogTail(StreamTail[types_pb2.LogEntry]):
    """The entries of a run's log as the server streams them; ends when the run ends.

    Iterate it for LogEntry messages; `state` is the run's state as the stream last reported
    it. Use it as a context manager, or call `cancel`, to stop following early.
    """

    def __init__(self, call: Any, address: str) -> None:
        super().__init__(call, address, "entries")
        self._state = RunState.UNSPECIFIED

    @property
    def state(self) -> RunState:
        """The run's state as last reported by the stream; UNSPECIFIED before any report."""
        return self._state

    def _on_response(self, response: jobs_pb2.TailJobRunLogsResponse) -> None:
        if response.job_run_state:
            self._state = RunState.of(response.job_run_state)


class LogsMixin(JobsBase):
    """Log calls of JobsClient. Entries of one run are ordered across its streams."""

    def get_logs(
        self,
        job_name: str,
        run_id: str,
        *,
        stream: LogStreamLike = None,
        page_size: int | None = None,
    ) -> Iterator[types_pb2.LogEntry]:
        """The log entries a run has written so far, fetching pages as the iteration needs them.

        Args:
            job_name: The run's job.
            run_id: The run.
            stream: "stdout", "stderr" or "driver" (the Spark driver's log), or a LogStream
                value; every stream when None.
            page_size: Entries per call (at most 1000); the server's default when None.

        Raises:
            EntityNotFound: There is no such job or run (raised when iteration starts).
            ValueError: `stream` names no stream.
        """
        request = jobs_pb2.GetJobRunLogsRequest(
            job_name=job_name,
            run_id=run_id,
            stream=log_stream(stream),
            max_results=page_size or 0,
        )
        return self._paginate(self._stub.GetJobRunLogs, request, "entries")

    def tail_logs(
        self,
        job_name: str,
        run_id: str,
        *,
        stream: LogStreamLike = None,
        timeout_s: float | None = None,
    ) -> LogTail:
        """Follows a run's log: its entries so far, then each new one, until the run ends.

        Args:
            job_name: The run's job.
            run_id: The run.
            stream: "stdout", "stderr" or "driver", or a LogStream value; every stream
                when None.
            timeout_s: Seconds after which to stop following (DeadlineExceeded is raised);
                None to follow however long the run takes.

        Returns:
            An iterator over LogEntry messages that also tells the run's state.

        Raises:
            EntityNotFound: There is no such job or run (raised when iteration starts).
            ValueError: `stream` names no stream.

        Example:
            >>> with client.jobs.tail_logs("daily", run_id) as tail:  # doctest: +SKIP
            ...     for entry in tail:
            ...         print(entry.message)
            ...     print(tail.state)
        """
        request = jobs_pb2.TailJobRunLogsRequest(
            job_name=job_name, run_id=run_id, stream=log_stream(stream)
        )
        call = self._stub.TailJobRunLogs(
            request, timeout=timeout_s, metadata=self._options.metadata or None
        )
        return LogTail(call, self._address)
