"""A run's work as child spans of the call that started it: launch (claiming an environment,
warm or cold), execution of the script, and the end of the run. The W3C traceparent of the
launch span goes into the run's environment (TRACEPARENT), so the script's own tracing joins the
same trace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from sluice.control_plane.audit.tracing import context_from_traceparent, traceparent
from sluice.control_plane.jobs.model import JobRun, RunState


def _nanos(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


class RunTracing:
    """Records a run's spans with the given tracer (a no-op tracer records nothing)."""

    def __init__(self, tracer: Tracer | None = None) -> None:
        self._tracer = tracer or trace.NoOpTracer()

    def _parent(self, run: JobRun) -> Context:
        return context_from_traceparent(run.trace_parent)

    def _attributes(self, run: JobRun) -> dict[str, str | int]:
        account = run.isolation.account
        return {
            "sluice.account": account,
            "enduser.role": run.isolation.role,
            "sluice.resource": f"sluice:jobs:{account}:jobrun/{run.job_name}/{run.id}",
            "sluice.job_run.id": run.id,
            "sluice.job_run.attempt": run.attempt,
        }

    @contextmanager
    def launch(self, run: JobRun) -> Iterator[Span]:
        """The span of launching a run: claiming its environment and starting its script."""
        with self._tracer.start_as_current_span(
            "job_run.launch",
            context=self._parent(run),
            attributes={**self._attributes(run), "sluice.action": "sluice:LaunchJobRun"},
        ) as span:
            yield span

    def executed(
        self, run: JobRun, started: datetime | None, finished: datetime | None, error: str
    ) -> None:
        """The span of the script's execution, once it is over."""
        if started is None or finished is None:
            return
        span = self._tracer.start_span(
            "job_run.execute",
            context=self._parent(run),
            attributes={**self._attributes(run), "sluice.action": "sluice:ExecuteJobRun"},
            start_time=_nanos(started),
        )
        if error:
            span.set_status(Status(StatusCode.ERROR, error[:512]))
        span.end(end_time=_nanos(finished))

    def ended(self, run: JobRun, state: RunState, error: str = "") -> None:
        """A zero-length span marking how the run ended."""
        span = self._tracer.start_span(
            "job_run.end",
            context=self._parent(run),
            attributes={
                **self._attributes(run),
                "sluice.action": "sluice:EndJobRun",
                "sluice.job_run.state": str(state),
                "sluice.outcome": "success" if state is RunState.SUCCEEDED else "failure",
            },
        )
        if state is not RunState.SUCCEEDED:
            span.set_status(Status(StatusCode.ERROR, error[:512]))
        span.end()

    @staticmethod
    def traceparent_of(span: Span) -> str:
        """The W3C traceparent of span, for the run's environment."""
        return traceparent(span.get_span_context())
