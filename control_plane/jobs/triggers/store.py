"""The trigger store: triggers per account, and the fires, each one transaction.

A fire changes the trigger (its next due time, its pending events, the runs it has counted) with
a conditional update and creates the runs of its actions in the same transaction, so a due time,
a batch of events or a set of finished runs fires at most once whatever crashes or races; the
scheduler's fires also carry the lease's Fence, so only the lease's holder fires.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sluice.common.paging import Page, PageRequest
from sluice.control_plane.jobs.leases import Fence
from sluice.control_plane.jobs.triggers.model import Trigger, TriggerInput

# The subnet and security group of a job's runs, by (account, job name).
Network = Callable[[str, str], tuple[str, str]]


@dataclass(frozen=True)
class FireResult:
    """What one fire did: the runs it started ((job name, run id)), the actions it could not
    start, each with why (the job or crawler is gone, at its concurrency cap or running, or
    changed its role), and the crawls it began ((crawler name, crawl id))."""

    account: str
    trigger_name: str
    runs: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    crawls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScheduledFire:
    """A SCHEDULED trigger's move from its due time to next_fire_at, firing if fire."""

    trigger: Trigger
    due: datetime
    next_fire_at: datetime | None
    fire: bool
    # The trigger's actions as stored when it was read (scheduled_triggers' actions_text): the
    # fire uses trigger as given while its actions still read so, and is not made (the trigger
    # stays due, the result is None) once they changed; "": the fire reads the trigger again.
    actions_text: str = ""
    # What the store prepared of the fire's runs when it read the trigger (ScheduledRead's
    # runs), handed back unchanged; None: everything is done at the fire.
    runs: object = None


@dataclass(frozen=True)
class ScheduledRead:
    """A SCHEDULED trigger read ahead of its due time: its actions as stored (the text a
    ScheduledFire's actions_text compares) and what the store prepared of its runs then (its
    jobs' networks resolved, its runs' rows built; opaque to the caller, which hands it back
    in the ScheduledFire, so that at the due time only the fire's transaction is left)."""

    trigger: Trigger
    actions_text: str
    runs: object = None


class TriggerStore(ABC):
    @abstractmethod
    def create_trigger(self, account: str, value: TriggerInput) -> Trigger: ...

    @abstractmethod
    def get_trigger(self, account: str, name: str) -> Trigger: ...

    @abstractmethod
    def get_triggers(
        self, account: str, page: PageRequest, dependent_job_name: str = ""
    ) -> Page[Trigger]: ...

    @abstractmethod
    def list_trigger_names(
        self,
        account: str,
        page: PageRequest,
        dependent_job_name: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> Page[str]: ...

    @abstractmethod
    def update_trigger(self, account: str, value: TriggerInput) -> Trigger:
        """Replaces a trigger's definition (not its type, tags or state); an activated
        SCHEDULED trigger's next due time follows its new schedule."""

    @abstractmethod
    def delete_trigger(self, account: str, name: str) -> None: ...

    @abstractmethod
    def activate(self, account: str, name: str) -> Trigger: ...

    @abstractmethod
    def deactivate(self, account: str, name: str) -> Trigger: ...

    @abstractmethod
    def fire_on_demand(self, account: str, name: str, network: Network) -> FireResult: ...

    @abstractmethod
    def notify_event(self, account: str, name: str, network: Network) -> tuple[int, FireResult]:
        """Counts one event; fires when the batch is full. The events pending afterwards."""

    # The scheduler's side

    @abstractmethod
    def due_scheduled(self, now: datetime) -> Sequence[Trigger]: ...

    @abstractmethod
    def due_scheduled_keys(self, until: datetime) -> dict[int, tuple[datetime, datetime]]:
        """The activated SCHEDULED triggers due by until, read lightly (no definitions): each
        one's pk -> (next_fire_at, last_modified_on)."""

    @abstractmethod
    def scheduled_triggers(
        self, pks: Sequence[int], network: Network | None = None
    ) -> list[ScheduledRead]:
        """The triggers of pks that still exist, read ahead of their fires; with network, their
        runs prepared too (networks resolved, rows built). What is prepared is checked at the
        fire: a run whose job changed since is built again; a network is as it was resolved
        (a connection changed in between is seen by the next fire)."""

    @abstractmethod
    def fire_scheduled(
        self,
        trigger: Trigger,
        due: datetime,
        next_fire_at: datetime | None,
        fire: bool,
        network: Network,
        fence: Fence | None,
    ) -> FireResult | None:
        """Moves trigger's next due time from due to next_fire_at, starting its actions if fire;
        None if its due time was no longer due (another fire, a stop or an update got there)."""

    @abstractmethod
    def fire_scheduled_many(
        self, fires: Sequence[ScheduledFire], network: Network, fence: Fence | None
    ) -> list[FireResult | None]:
        """fire_scheduled of each, in one transaction."""

    @abstractmethod
    def activated_conditional(self) -> Sequence[Trigger]: ...

    @abstractmethod
    def finished_jobs_since(self, since: datetime) -> frozenset[tuple[str, str]]:
        """(account, job name) of every job with a run that ended at or after since."""

    @abstractmethod
    def finished_crawlers_since(self, since: datetime) -> frozenset[tuple[str, str]]:
        """(account, crawler name) of every crawler with a crawl that ended at or after since."""

    @abstractmethod
    def ready_conditional(self, triggers: Sequence[Trigger]) -> list[Trigger]:
        """Those of triggers (activated CONDITIONAL ones) that the runs finished since they
        last fired seem to satisfy, judged for all at once without a lock: fire_conditional
        decides. None is left out that fire_conditional would fire."""

    @abstractmethod
    def fire_conditional(
        self, trigger: Trigger, network: Network, fence: Fence | None
    ) -> FireResult | None:
        """Fires trigger once if the runs finished since it last fired satisfy its predicate,
        counting them; None if they do not."""

    @abstractmethod
    def fire_conditional_many(
        self, triggers: Sequence[Trigger], network: Network, fence: Fence | None
    ) -> list[FireResult | None]:
        """fire_conditional of each (of ready_conditional's), in one transaction."""

    @abstractmethod
    def due_event_windows(self, now: datetime) -> Sequence[Trigger]: ...

    @abstractmethod
    def fire_event_window(
        self, trigger: Trigger, now: datetime, network: Network, fence: Fence | None
    ) -> FireResult | None:
        """Fires an EVENT trigger whose batch window has passed; None if it is no longer due."""
