"""The jobs part of the SDK: job definitions, scripts, runs, their logs, and the warm pool."""

from __future__ import annotations

from sluice.sdk.jobs.bookmarks import BookmarksMixin
from sluice.sdk.jobs.jobs import JobDefinitionsMixin, JobLike, JobUpdateLike
from sluice.sdk.jobs.logs import LogsMixin, LogTail
from sluice.sdk.jobs.runs import MAX_STOP_BATCH, StopResult
from sluice.sdk.jobs.states import TERMINAL_STATES, RunState, log_stream, log_stream_name
from sluice.sdk.jobs.waiting import DEFAULT_POLL_INTERVAL_S, WaitingMixin


class JobsClient(JobDefinitionsMixin, WaitingMixin, LogsMixin, BookmarksMixin):
    """Sluice jobs: PySpark (glueetl) or Python (pythonshell) scripts run on Ray; bookmarks.

    Inputs are generated messages or plain dicts of their fields (snake_case); results are
    generated messages of sluice.jobs.v1. List methods return iterators that fetch pages as
    they go. Failures raise the SluiceError subclass the server's error names.

    Obtain one from `Client.jobs`; it shares the client's channel.

    Example:
        >>> with sdk.connect() as client:  # doctest: +SKIP
        ...     location = client.jobs.upload_script("daily.py", path="daily.py")
        ...     client.jobs.create({"name": "daily", "role": "etl",
        ...                         "command": {"name": "glueetl", "script_location": location}})
        ...     run_id = client.jobs.start_run("daily", {"--day": "2024-03-01"})
        ...     run = client.jobs.wait_for_run("daily", run_id, timeout_s=600)
        ...     print(RunState.of(run), run.error_message)
    """


__all__ = [
    "DEFAULT_POLL_INTERVAL_S",
    "MAX_STOP_BATCH",
    "TERMINAL_STATES",
    "JobLike",
    "JobUpdateLike",
    "JobsClient",
    "LogTail",
    "RunState",
    "StopResult",
    "log_stream",
    "log_stream_name",
]
