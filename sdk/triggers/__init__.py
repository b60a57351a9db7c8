"""The triggers part of the SDK: jobs started on a schedule, when other jobs end, on demand, or
after a batch of events."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import grpc

from sluice.jobs.v1 import triggers_pb2 as api
from sluice.jobs.v1 import triggers_pb2_grpc
from sluice.sdk._calls import ServiceCalls
from sluice.sdk.config import ClientOptions
from sluice.sdk.messages import to_message

TriggerLike = api.CreateTriggerRequest | Mapping[str, Any]
TriggerUpdateLike = api.TriggerUpdate | Mapping[str, Any]

_TYPES = {
    "SCHEDULED": api.TRIGGER_TYPE_SCHEDULED,
    "CONDITIONAL": api.TRIGGER_TYPE_CONDITIONAL,
    "ON_DEMAND": api.TRIGGER_TYPE_ON_DEMAND,
    "EVENT": api.TRIGGER_TYPE_EVENT,
}


def trigger_type(name: str) -> api.TriggerType.ValueType:
    """The API value of a Glue trigger type name (SCHEDULED, CONDITIONAL, ON_DEMAND, EVENT)."""
    try:
        return _TYPES[name.upper()]
    except KeyError:
        raise ValueError(f"trigger type {name!r} is not one of {', '.join(_TYPES)}") from None


def type_name(value: int) -> str:
    """The Glue name of a trigger type value."""
    return api.TriggerType.Name(value).removeprefix("TRIGGER_TYPE_")  # type: ignore[arg-type]


def state_name(value: int) -> str:
    """The Glue name of a trigger state value."""
    return api.TriggerState.Name(value).removeprefix("TRIGGER_STATE_")  # type: ignore[arg-type]


class TriggersClient(ServiceCalls):
    """Sluice triggers, as Glue's. Obtain one from `Client.triggers`.

    Example:
        >>> client.triggers.create({"name": "nightly", "type": "TRIGGER_TYPE_SCHEDULED",
        ...     "schedule": "cron(15 2 * * ? *)", "actions": [{"job_name": "daily"}],
        ...     "start_on_creation": True})  # doctest: +SKIP
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = triggers_pb2_grpc.TriggerServiceStub(channel)

    def create(self, trigger: TriggerLike) -> str:
        """Creates a trigger; its name.

        Raises:
            AlreadyExists: A trigger of that name exists.
            InvalidInput: A field is not valid (a bad cron expression, an unknown job, ...).
            AccessDenied: The caller may not pass the role of an action's job.
        """
        request = to_message(trigger, api.CreateTriggerRequest, what="trigger")
        response: api.CreateTriggerResponse = self._call(self._stub.CreateTrigger, request)
        return response.name

    def get(self, name: str) -> api.Trigger:
        response: api.GetTriggerResponse = self._call(
            self._stub.GetTrigger, api.GetTriggerRequest(name=name)
        )
        return response.trigger

    def get_many(
        self, *, dependent_job_name: str = "", page_size: int | None = None
    ) -> Iterator[api.Trigger]:
        """Every trigger (those starting dependent_job_name, if given), by name."""
        request = api.GetTriggersRequest(
            dependent_job_name=dependent_job_name, max_results=page_size or 0
        )
        return self._paginate(self._stub.GetTriggers, request, "triggers")

    def list(
        self,
        *,
        dependent_job_name: str = "",
        tags: Mapping[str, str] | None = None,
        page_size: int | None = None,
    ) -> Iterator[str]:
        """The names of the triggers, by name."""
        request = api.ListTriggersRequest(
            dependent_job_name=dependent_job_name,
            tags=dict(tags or {}),
            max_results=page_size or 0,
        )
        return self._paginate(self._stub.ListTriggers, request, "trigger_names")

    def batch_get(self, names: Sequence[str]) -> api.BatchGetTriggersResponse:
        """The triggers found of names, and the names not found."""
        response: api.BatchGetTriggersResponse = self._call(
            self._stub.BatchGetTriggers, api.BatchGetTriggersRequest(trigger_names=list(names))
        )
        return response

    def update(self, name: str, trigger_update: TriggerUpdateLike) -> api.Trigger:
        """Changes a trigger: the fields given replace its own; the trigger afterwards."""
        request = api.UpdateTriggerRequest(
            name=name,
            trigger_update=to_message(trigger_update, api.TriggerUpdate, what="trigger_update"),
        )
        response: api.UpdateTriggerResponse = self._call(self._stub.UpdateTrigger, request)
        return response.trigger

    def delete(self, name: str) -> None:
        self._call(self._stub.DeleteTrigger, api.DeleteTriggerRequest(name=name))

    def start(self, name: str) -> None:
        """Activates a trigger; runs an ON_DEMAND trigger's actions now."""
        self._call(self._stub.StartTrigger, api.StartTriggerRequest(name=name))

    def stop(self, name: str) -> None:
        """Deactivates a trigger."""
        self._call(self._stub.StopTrigger, api.StopTriggerRequest(name=name))

    def notify_event(self, name: str) -> int:
        """Sends an EVENT trigger one event; the events pending in its batch afterwards."""
        response: api.NotifyEventResponse = self._call(
            self._stub.NotifyEvent, api.NotifyEventRequest(name=name)
        )
        return response.pending_events


__all__ = [
    "TriggerLike",
    "TriggerUpdateLike",
    "TriggersClient",
    "state_name",
    "trigger_type",
    "type_name",
]
