"""Triggers between the API (sluice.jobs.v1 triggers_pb2) and the trigger model."""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from sluice.common.errors import InvalidInput
from sluice.common.paging import PageRequest
from sluice.control_plane.convert.common import params, timestamp
from sluice.control_plane.jobs.model import RunState
from sluice.control_plane.jobs.triggers.model import (
    MAX_BATCH_WINDOW_S,
    Action,
    Condition,
    CrawlState,
    EventBatching,
    Logical,
    Predicate,
    Trigger,
    TriggerInput,
    TriggerState,
    TriggerType,
)
from sluice.jobs.v1 import triggers_pb2 as api

# Glue's OrchestrationPageSize200, of GetTriggers and ListTriggers.
MAX_TRIGGER_PAGE = 200

_TYPES = MappingProxyType(
    {
        api.TRIGGER_TYPE_SCHEDULED: TriggerType.SCHEDULED,
        api.TRIGGER_TYPE_CONDITIONAL: TriggerType.CONDITIONAL,
        api.TRIGGER_TYPE_ON_DEMAND: TriggerType.ON_DEMAND,
        api.TRIGGER_TYPE_EVENT: TriggerType.EVENT,
    }
)
_TYPE_VALUES = MappingProxyType({kind: value for value, kind in _TYPES.items()})
_STATES = MappingProxyType(
    {
        TriggerState.CREATED: api.TRIGGER_STATE_CREATED,
        TriggerState.ACTIVATED: api.TRIGGER_STATE_ACTIVATED,
        TriggerState.DEACTIVATED: api.TRIGGER_STATE_DEACTIVATED,
    }
)


def page_request(request: api.GetTriggersRequest | api.ListTriggersRequest) -> PageRequest:
    return PageRequest(
        max_results=request.max_results,
        next_token=request.next_token,
        max_allowed=MAX_TRIGGER_PAGE,
    )


def trigger_type_from_proto(value: int) -> TriggerType:
    try:
        return _TYPES[value]  # type: ignore[index]
    except KeyError:
        raise InvalidInput("type must be SCHEDULED, CONDITIONAL, ON_DEMAND or EVENT") from None


def _actions(messages: Iterable[api.Action]) -> tuple[Action, ...]:
    actions = []
    for message in messages:
        if not message.job_name and not message.crawler_name:
            raise InvalidInput("every action names a job (job_name) or a crawler (crawler_name)")
        actions.append(
            Action(
                job_name=message.job_name,
                arguments=params(message.arguments),
                timeout=message.timeout,
                security_configuration=message.security_configuration,
                notify_delay_after=message.notification_property.notify_delay_after,
                crawler_name=message.crawler_name,
            )
        )
    return tuple(actions)


def _predicate(message: api.Predicate) -> Predicate | None:
    if not message.conditions:
        return None
    try:
        logical = Logical(message.logical or "AND")
    except ValueError:
        raise InvalidInput(f"predicate logical {message.logical!r} is not AND or ANY") from None
    conditions = []
    for condition in message.conditions:
        if condition.logical_operator not in ("", "EQUALS"):
            raise InvalidInput(f"logical_operator {condition.logical_operator!r} is not EQUALS")
        if condition.crawler_name or condition.crawl_state:
            conditions.append(_crawl_condition(condition))
            continue
        try:
            state = RunState(condition.state)
        except ValueError:
            raise InvalidInput(
                f"condition on job {condition.job_name}: {condition.state!r} is not a job run state"
            ) from None
        conditions.append(Condition(condition.job_name, state))
    return Predicate(logical, tuple(conditions))


def _crawl_condition(condition: api.Condition) -> Condition:
    if condition.job_name or condition.state:
        raise InvalidInput(
            f"condition on crawler {condition.crawler_name}: a condition names a job and a "
            "state, or a crawler and a crawl_state, not both"
        )
    if not condition.crawler_name:
        raise InvalidInput("a condition with a crawl_state names a crawler (crawler_name)")
    try:
        state = CrawlState(condition.crawl_state)
    except ValueError:
        raise InvalidInput(
            f"condition on crawler {condition.crawler_name}: crawl_state "
            f"{condition.crawl_state!r} is not SUCCEEDED, FAILED or CANCELLED"
        ) from None
    return Condition("", crawler_name=condition.crawler_name, crawl_state=state)


def _batching(
    message: api.CreateTriggerRequest | api.TriggerUpdate,
) -> EventBatching | None:
    if not message.HasField("event_batching_condition"):
        return None
    batching = message.event_batching_condition
    return EventBatching(batching.batch_size, batching.batch_window or MAX_BATCH_WINDOW_S)


def trigger_input_from_create(request: api.CreateTriggerRequest) -> TriggerInput:
    return TriggerInput(
        name=request.name,
        type=trigger_type_from_proto(request.type),
        actions=_actions(request.actions),
        description=request.description,
        schedule=request.schedule,
        time_zone=request.schedule_time_zone,
        predicate=_predicate(request.predicate),
        event_batching=_batching(request),
        workflow_name=request.workflow_name,
        tags=params(request.tags),
        start_on_creation=request.start_on_creation,
    )


def trigger_input_from_update(current: Trigger, update: api.TriggerUpdate) -> TriggerInput:
    """The trigger's definition with what update gives replacing it (Glue's TriggerUpdate:
    unset fields stay as they are; update.name is reserved, as in Glue)."""
    base = current.as_input()
    return TriggerInput(
        name=base.name,
        type=base.type,
        actions=_actions(update.actions) if update.actions else base.actions,
        description=update.description or base.description,
        schedule=update.schedule or base.schedule,
        time_zone=update.schedule_time_zone or base.time_zone,
        predicate=_predicate(update.predicate) if update.predicate.conditions else base.predicate,
        event_batching=_batching(update) or base.event_batching,
        workflow_name=base.workflow_name,
        tags=base.tags,
    )


def trigger_to_proto(trigger: Trigger) -> api.Trigger:
    message = api.Trigger(
        name=trigger.name,
        workflow_name=trigger.workflow_name,
        id=trigger.id,
        type=_TYPE_VALUES[trigger.type],
        state=_STATES[trigger.state],
        description=trigger.description,
        schedule=trigger.schedule,
        schedule_time_zone=trigger.time_zone,
        actions=[
            api.Action(
                job_name=action.job_name,
                crawler_name=action.crawler_name,
                arguments=dict(action.arguments),
                timeout=action.timeout,
                security_configuration=action.security_configuration,
                notification_property=(
                    api.NotificationProperty(notify_delay_after=action.notify_delay_after)
                    if action.notify_delay_after
                    else None
                ),
            )
            for action in trigger.actions
        ],
        next_fire_time=timestamp(trigger.next_fire_at),
    )
    if trigger.predicate is not None:
        message.predicate.logical = str(trigger.predicate.logical)
        message.predicate.conditions.extend(
            (
                api.Condition(
                    logical_operator="EQUALS",
                    crawler_name=c.crawler_name,
                    crawl_state=str(c.crawl_state),
                )
                if c.crawler_name
                else api.Condition(
                    logical_operator="EQUALS", job_name=c.job_name, state=str(c.state)
                )
            )
            for c in trigger.predicate.conditions
        )
    if trigger.event_batching is not None:
        message.event_batching_condition.batch_size = trigger.event_batching.batch_size
        message.event_batching_condition.batch_window = trigger.event_batching.batch_window
    return message
