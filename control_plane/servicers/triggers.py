"""The TriggerService servicer: convert, check, call the trigger store, respond.

Beyond the store it checks what a trigger names: every job (crawler) of its actions and predicate
must exist in the caller's account, and the caller must be allowed to pass each action's role
(sluice:PassRole), at creation and at every update, as CreateJob does; the role so passed is
kept in the action, and a fire starts the job only while the job still has it. Fires asked for by
calls (StartTrigger of an ON_DEMAND trigger, NotifyEvent) wake the run scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeAlias

import grpc

from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.control_plane.convert.common import required
from sluice.control_plane.convert.triggers import (
    page_request,
    trigger_input_from_create,
    trigger_input_from_update,
    trigger_to_proto,
)
from sluice.control_plane.jobs.store import JobStore
from sluice.control_plane.jobs.triggers import model
from sluice.control_plane.jobs.triggers.model import TriggerInput, TriggerType
from sluice.control_plane.jobs.triggers.store import FireResult, Network, TriggerStore
from sluice.control_plane.security.calls import current_call
from sluice.control_plane.security.roles import CallerPassesRole, RolePassing
from sluice.jobs.v1 import triggers_pb2 as api
from sluice.jobs.v1 import triggers_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext

# BatchGetTriggers' most names per call.
MAX_BATCH_GET = 100


class TriggerServicer(triggers_pb2_grpc.TriggerServiceServicer):
    """Serves sluice.jobs.v1.TriggerService.

    Args:
        store: Where triggers are kept and fired.
        jobs: The job store, to resolve the jobs a trigger names.
        account: The account every call acts as on a server without authentication.
        network: A job's runs' subnet and security group (its first connection's).
        on_fired: Called when a call's fire started runs (wakes the run scheduler); also when
            a trigger changed (wakes the trigger scheduler). Must not block.
        roles: Whether the caller may pass a role.
        crawler_role: A crawler's role by (account, name) (EntityNotFound if there is none):
            a trigger naming a crawler needs it.
    """

    def __init__(
        self,
        store: TriggerStore,
        jobs: JobStore,
        *,
        account: str,
        network: Network,
        on_fired: Callable[[], None],
        roles: RolePassing | None = None,
        crawler_role: Callable[[str, str], str] | None = None,
    ) -> None:
        if not account:
            raise ValueError("account must not be empty")
        self._store = store
        self._jobs = jobs
        self._account_id = account
        self._network = network
        self._on_fired = on_fired
        self._roles = roles or CallerPassesRole()
        self._crawler_role = crawler_role

    def _account(self) -> str:
        info = current_call()
        if info is not None and info.account:
            return info.account
        return self._account_id

    def _checked(self, account: str, value: TriggerInput) -> TriggerInput:
        """value with each action's job's role, once every job it names exists and the caller
        may pass each action's role."""
        model.checked(value)
        roles: dict[str, str] = {}
        for job_name in model.job_names(value):
            try:
                roles[job_name] = self._jobs.get_job(account, job_name).role
            except EntityNotFound:
                raise InvalidInput(
                    f"trigger {value.name} names job {job_name}, which does not exist"
                ) from None
        crawler_roles: dict[str, str] = {}
        for crawler in model.crawler_names(value):
            try:
                if self._crawler_role is None:
                    raise EntityNotFound(crawler)
                crawler_roles[crawler] = self._crawler_role(account, crawler)
            except EntityNotFound:
                raise InvalidInput(
                    f"trigger {value.name} names crawler {crawler}, which does not exist"
                ) from None
        actions = tuple(
            replace(
                action,
                role=(
                    crawler_roles[action.crawler_name]
                    if action.crawler_name
                    else roles[action.job_name]
                ),
            )
            for action in value.actions
        )
        for role in sorted({action.role for action in actions}):
            self._roles.check(role)
        return replace(value, actions=actions)

    def _fired(self, result: FireResult) -> None:
        if result.runs or result.crawls:
            self._on_fired()

    def CreateTrigger(
        self, request: api.CreateTriggerRequest, context: Ctx
    ) -> api.CreateTriggerResponse:
        account = self._account()
        value = self._checked(account, trigger_input_from_create(request))
        trigger = self._store.create_trigger(account, value)
        self._on_fired()
        return api.CreateTriggerResponse(name=trigger.name)

    def GetTrigger(self, request: api.GetTriggerRequest, context: Ctx) -> api.GetTriggerResponse:
        trigger = self._store.get_trigger(self._account(), request.name)
        return api.GetTriggerResponse(trigger=trigger_to_proto(trigger))

    def GetTriggers(self, request: api.GetTriggersRequest, context: Ctx) -> api.GetTriggersResponse:
        page = self._store.get_triggers(
            self._account(), page_request(request), request.dependent_job_name
        )
        return api.GetTriggersResponse(
            triggers=[trigger_to_proto(t) for t in page.items], next_token=page.next_token
        )

    def ListTriggers(
        self, request: api.ListTriggersRequest, context: Ctx
    ) -> api.ListTriggersResponse:
        page = self._store.list_trigger_names(
            self._account(), page_request(request), request.dependent_job_name, dict(request.tags)
        )
        return api.ListTriggersResponse(trigger_names=list(page.items), next_token=page.next_token)

    def BatchGetTriggers(
        self, request: api.BatchGetTriggersRequest, context: Ctx
    ) -> api.BatchGetTriggersResponse:
        names = list(request.trigger_names)
        if len(names) > MAX_BATCH_GET:
            raise InvalidInput(f"trigger_names holds at most {MAX_BATCH_GET} names")
        account = self._account()
        response = api.BatchGetTriggersResponse()
        for name in names:
            try:
                response.triggers.append(trigger_to_proto(self._store.get_trigger(account, name)))
            except (EntityNotFound, InvalidInput):
                response.triggers_not_found.append(name)
        return response

    def UpdateTrigger(
        self, request: api.UpdateTriggerRequest, context: Ctx
    ) -> api.UpdateTriggerResponse:
        account = self._account()
        update = required(request, "trigger_update")
        current = self._store.get_trigger(account, request.name)
        value = self._checked(account, trigger_input_from_update(current, update))
        trigger = self._store.update_trigger(account, value)
        self._on_fired()
        return api.UpdateTriggerResponse(trigger=trigger_to_proto(trigger))

    def DeleteTrigger(
        self, request: api.DeleteTriggerRequest, context: Ctx
    ) -> api.DeleteTriggerResponse:
        self._store.delete_trigger(self._account(), request.name)
        return api.DeleteTriggerResponse(name=request.name)

    def StartTrigger(
        self, request: api.StartTriggerRequest, context: Ctx
    ) -> api.StartTriggerResponse:
        account = self._account()
        trigger = self._store.get_trigger(account, request.name)
        if trigger.type is TriggerType.ON_DEMAND:
            self._fired(self._store.fire_on_demand(account, request.name, self._network))
        else:
            self._store.activate(account, request.name)
            self._on_fired()
        return api.StartTriggerResponse(name=request.name)

    def StopTrigger(self, request: api.StopTriggerRequest, context: Ctx) -> api.StopTriggerResponse:
        self._store.deactivate(self._account(), request.name)
        return api.StopTriggerResponse(name=request.name)

    def NotifyEvent(self, request: api.NotifyEventRequest, context: Ctx) -> api.NotifyEventResponse:
        pending, result = self._store.notify_event(self._account(), request.name, self._network)
        self._fired(result)
        return api.NotifyEventResponse(name=request.name, pending_events=pending)
