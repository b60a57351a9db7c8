"""The SQL trigger store: SQLite or PostgreSQL through the same code."""

from __future__ import annotations

import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Text,
    and_,
    cast,
    delete,
    exists,
    insert,
    select,
    tuple_,
    update,
)

from sluice.common.db import Database, insert_rows
from sluice.common.errors import (
    ConcurrentModification,
    EntityNotFound,
    InvalidInput,
    ResourceNumberLimitExceeded,
)
from sluice.common.paging import Page, PageRequest, PageTokenCodec
from sluice.control_plane.crawlers.model import CrawlerRunning
from sluice.control_plane.crawlers.sql_store import CRAWLS, PENDING_OWNER, begin_crawl
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.leases import Fence
from sluice.control_plane.jobs.model import TERMINAL_STATES, RunState
from sluice.control_plane.jobs.rows import JOB_RUNS, JOBS
from sluice.control_plane.jobs.sql_base import state_values, utc_now
from sluice.control_plane.jobs.sql_leases import check_fence
from sluice.control_plane.jobs.sql_runs import claim_run_slot, insert_run, run_values
from sluice.control_plane.jobs.triggers import model
from sluice.control_plane.jobs.triggers.cron import GlueCron
from sluice.control_plane.jobs.triggers.model import (
    CRAWL_STATES,
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
from sluice.control_plane.jobs.triggers.rows import (
    TRIGGER_CONSUMED_CRAWLS,
    TRIGGER_CONSUMED_RUNS,
    TRIGGERS,
)
from sluice.control_plane.jobs.triggers.store import (
    FireResult,
    Network,
    ScheduledFire,
    ScheduledRead,
    TriggerStore,
)
from sluice.control_plane.jobs.workflows.graph import check_joining

log = logging.getLogger("sluice.triggers")

# Why an action is skipped at a fire: its job is gone, changed its role, or is at its cap.
_SKIPPED = (EntityNotFound, ConcurrentModification, ResourceNumberLimitExceeded)
# Why a crawler action is skipped: the crawler is gone, changed its role, or is running.
_CRAWL_SKIPPED = (EntityNotFound, ConcurrentModification, CrawlerRunning)
_FINAL_CRAWL_STATES = sorted(CRAWL_STATES)


@dataclass(frozen=True)
class _Finished:
    """A finished job run or crawl a condition may count: kind "job" or "crawler", the row's
    key in its table (and a crawl's id), the job's or crawler's name, and its state as a
    condition spells it."""

    kind: str
    pk: int
    name: str
    state: str
    ended: datetime
    # A crawl's crawl_id (what its trigger records once counted).
    crawl_id: str = ""

    @property
    def key(self) -> int | str:
        return self.crawl_id or self.pk


# Rows read per query while a listing filters on tags or a dependent job in Python.
_SCAN_CHUNK = 200
# Jobs whose slots one statement claims.
_CLAIM_CHUNK = 200
# Conditional triggers judged together by ready_conditional.
_READY_CHUNK = 500
# Runs a conditional trigger looks at per evaluation.
_MAX_CANDIDATES = 1000
# The runs that follow a run (its retry attempts), in "no retry follows" conditions: made once
# (an alias of the wide runs table costs milliseconds to build per statement).
_FOLLOWING = JOB_RUNS.alias("following_runs")
# Triggers read by key per query.
_READ_CHUNK = 500
# A trigger's actions as stored (JSON text): whether they changed since a read, without
# decoding them.
_ACTIONS_TEXT = cast(TRIGGERS.c.actions, Text).label("actions_text")


def new_trigger_id() -> str:
    return model.TRIGGER_ID_PREFIX + secrets.token_hex(16)


class SqlTriggerStore(TriggerStore):
    """TriggerStore over a common.db.Database whose jobs schema is upgraded."""

    def __init__(
        self,
        db: Database,
        page_tokens: PageTokenCodec,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._tokens = page_tokens
        self._clock = clock
        # Set by the workflow store: begins a run of the workflow whose start trigger fired
        # (SCHEDULED or EVENT), in the fire's transaction, and starts the trigger's actions in it.
        self.workflow_starter: (
            Callable[[Connection, Trigger, Mapping[str, tuple[str, str]]], FireResult] | None
        ) = None
        # activated_conditional's triggers as last read, by pk: (their key, the trigger).
        self._conditional: dict[int, tuple[tuple[datetime, str, str], Trigger]] = {}
        self._conditional_lock = threading.Lock()

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # Definitions

    def create_trigger(self, account: str, value: TriggerInput) -> Trigger:
        acc = checks.account(account)
        trigger = model.checked(value)
        now = self._now()
        state = TriggerState.ACTIVATED if trigger.start_on_creation else TriggerState.CREATED
        with self._db.write() as conn:
            if trigger.workflow_name:
                check_joining(conn, acc, trigger)
            conn.execute(
                insert(TRIGGERS).values(
                    trigger_id=new_trigger_id(),
                    account=acc,
                    name=trigger.name,
                    workflow_name=trigger.workflow_name,
                    type=str(trigger.type),
                    state=str(state),
                    tags=dict(trigger.tags),
                    created_on=now,
                    last_modified_on=now,
                    **_definition(trigger),
                    **_activation(trigger, state, now),
                )
            )
            return _trigger(_row(conn, acc, trigger.name))

    def get_trigger(self, account: str, name: str) -> Trigger:
        acc = checks.account(account)
        with self._db.read() as conn:
            return _trigger(_row(conn, acc, model.trigger_name(name)))

    def get_triggers(
        self, account: str, page: PageRequest, dependent_job_name: str = ""
    ) -> Page[Trigger]:
        rows, token = self._scan(account, page, "GetTriggers", dependent_job_name, {})
        return Page(items=tuple(_trigger(row) for row in rows), next_token=token)

    def list_trigger_names(
        self,
        account: str,
        page: PageRequest,
        dependent_job_name: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> Page[str]:
        rows, token = self._scan(account, page, "ListTriggers", dependent_job_name, tags or {})
        return Page(items=tuple(row.name for row in rows), next_token=token)

    def _scan(
        self,
        account: str,
        page: PageRequest,
        call: str,
        dependent_job_name: str,
        tags: Mapping[str, str],
    ) -> tuple[Sequence[Row], str]:
        """A page of triggers by name, of those starting dependent_job_name (if given) and
        carrying tags; filtered in Python, reading chunks until the page is full."""
        acc = checks.account(account)
        job = checks.job_name(dependent_job_name) if dependent_job_name else ""
        wanted = dict(sorted(tags.items()))
        query = self._tokens.page_query(page, str, call, acc, job, wanted)
        after = query.after
        kept: list[Row] = []
        with self._db.read() as conn:
            while len(kept) <= query.limit:
                stmt = select(TRIGGERS).where(TRIGGERS.c.account == acc)
                if after is not None:
                    stmt = stmt.where(TRIGGERS.c.name > str(after))
                rows = conn.execute(stmt.order_by(TRIGGERS.c.name).limit(_SCAN_CHUNK)).all()
                kept += [row for row in rows if _matches(row, job, wanted)]
                if len(rows) < _SCAN_CHUNK:
                    break
                after = rows[-1].name
        kept = kept[: query.limit + 1]
        return self._tokens.page_of(query, kept, lambda row: row.name)

    def update_trigger(self, account: str, value: TriggerInput) -> Trigger:
        acc = checks.account(account)
        trigger = model.checked(value)
        now = self._now()
        with self._db.write() as conn:
            row = _row(conn, acc, trigger.name, lock=True)
            if row.type != str(trigger.type):
                raise InvalidInput("UpdateTrigger does not change a trigger's type")
            if row.workflow_name != trigger.workflow_name:
                raise InvalidInput("UpdateTrigger does not change a trigger's workflow")
            if trigger.workflow_name:
                check_joining(conn, acc, trigger)
            values: dict[str, Any] = {"last_modified_on": now, **_definition(trigger)}
            if row.state == str(TriggerState.ACTIVATED) and trigger.type is TriggerType.SCHEDULED:
                values["next_fire_at"] = GlueCron.compile(
                    trigger.schedule, trigger.time_zone
                ).next_after(now)
            conn.execute(update(TRIGGERS).where(TRIGGERS.c.id == row.id).values(**values))
            return _trigger(_row(conn, acc, trigger.name))

    def delete_trigger(self, account: str, name: str) -> None:
        acc = checks.account(account)
        with self._db.write() as conn:
            deleted = conn.execute(
                delete(TRIGGERS).where(
                    TRIGGERS.c.account == acc, TRIGGERS.c.name == model.trigger_name(name)
                )
            ).rowcount
        if not deleted:
            raise EntityNotFound(f"Trigger {name} not found")

    def activate(self, account: str, name: str) -> Trigger:
        acc = checks.account(account)
        now = self._now()
        with self._db.write() as conn:
            row = _row(conn, acc, model.trigger_name(name), lock=True)
            trigger = _trigger(row)
            if trigger.type is TriggerType.ON_DEMAND:
                raise InvalidInput("an ON_DEMAND trigger is not activated: StartTrigger runs it")
            if trigger.state is not TriggerState.ACTIVATED:
                conn.execute(
                    update(TRIGGERS)
                    .where(TRIGGERS.c.id == row.id)
                    .values(
                        state=str(TriggerState.ACTIVATED),
                        last_modified_on=now,
                        **_activation(trigger.as_input(), TriggerState.ACTIVATED, now),
                    )
                )
            return _trigger(_row(conn, acc, trigger.name))

    def deactivate(self, account: str, name: str) -> Trigger:
        acc = checks.account(account)
        with self._db.write() as conn:
            row = _row(conn, acc, model.trigger_name(name), lock=True)
            if row.type == str(TriggerType.ON_DEMAND):
                raise InvalidInput("an ON_DEMAND trigger is never activated: nothing to stop")
            conn.execute(
                update(TRIGGERS)
                .where(TRIGGERS.c.id == row.id)
                .values(
                    state=str(TriggerState.DEACTIVATED),
                    last_modified_on=self._now(),
                    next_fire_at=None,
                    event_count=0,
                    first_event_at=None,
                )
            )
            return _trigger(_row(conn, acc, row.name))

    # Fires asked for by calls

    def fire_on_demand(self, account: str, name: str, network: Network) -> FireResult:
        acc = checks.account(account)
        trigger_name = model.trigger_name(name)
        with self._db.read() as conn:
            trigger = _trigger(_row(conn, acc, trigger_name))
        if trigger.type is not TriggerType.ON_DEMAND:
            raise InvalidInput(f"Trigger {name} is {trigger.type}: only ON_DEMAND ones are run")
        if trigger.workflow_name:
            raise InvalidInput(
                f"Trigger {name} starts workflow {trigger.workflow_name}: use StartWorkflowRun"
            )
        nets = _networks(trigger, network)
        with self._db.write() as conn:
            # Still there, with these actions: started as read, or not at all.
            row = _row(conn, acc, trigger_name, lock=True)
            if _trigger(row).actions != trigger.actions:
                raise ConcurrentModification(f"Trigger {name} changed as it started; start again")
            return self._start_actions(conn, trigger, nets)

    def notify_event(self, account: str, name: str, network: Network) -> tuple[int, FireResult]:
        acc = checks.account(account)
        trigger_name = model.trigger_name(name)
        with self._db.read() as conn:
            trigger = _trigger(_row(conn, acc, trigger_name))
        if trigger.type is not TriggerType.EVENT:
            raise InvalidInput(f"Trigger {name} is {trigger.type}, not an EVENT trigger")
        if trigger.state is not TriggerState.ACTIVATED:
            raise InvalidInput(f"Trigger {name} is {trigger.state}: start it to take events")
        nets = _networks(trigger, network)
        now = self._now()
        with self._db.write() as conn:
            counted = conn.execute(
                update(TRIGGERS)
                .where(
                    TRIGGERS.c.account == acc,
                    TRIGGERS.c.name == trigger_name,
                    TRIGGERS.c.state == str(TriggerState.ACTIVATED),
                )
                .values(event_count=TRIGGERS.c.event_count + 1)
            ).rowcount
            if not counted:
                raise ConcurrentModification(f"Trigger {name} changed; send the event again")
            row = _row(conn, acc, trigger_name)
            if row.first_event_at is None:
                conn.execute(
                    update(TRIGGERS).where(TRIGGERS.c.id == row.id).values(first_event_at=now)
                )
            if row.event_count < row.batch_size:
                return row.event_count, FireResult(acc, trigger_name)
            conn.execute(
                update(TRIGGERS)
                .where(TRIGGERS.c.id == row.id)
                .values(event_count=0, first_event_at=None)
            )
            return 0, self._start_actions(conn, _trigger(row), nets)

    # The scheduler's side

    def due_scheduled(self, now: datetime) -> Sequence[Trigger]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(TRIGGERS)
                .where(
                    TRIGGERS.c.state == str(TriggerState.ACTIVATED),
                    TRIGGERS.c.type == str(TriggerType.SCHEDULED),
                    TRIGGERS.c.next_fire_at <= now.astimezone(UTC),
                )
                .order_by(TRIGGERS.c.next_fire_at, TRIGGERS.c.id)
            ).all()
        return tuple(_trigger(row) for row in rows)

    def due_scheduled_keys(self, until: datetime) -> dict[int, tuple[datetime, datetime]]:
        with self._db.read() as conn:
            return {
                row.id: (row.next_fire_at, row.last_modified_on)
                for row in conn.execute(
                    select(TRIGGERS.c.id, TRIGGERS.c.next_fire_at, TRIGGERS.c.last_modified_on)
                    .where(
                        TRIGGERS.c.state == str(TriggerState.ACTIVATED),
                        TRIGGERS.c.type == str(TriggerType.SCHEDULED),
                        TRIGGERS.c.next_fire_at <= until.astimezone(UTC),
                    )
                    .order_by(TRIGGERS.c.next_fire_at, TRIGGERS.c.id)
                )
            }

    def scheduled_triggers(
        self, pks: Sequence[int], network: Network | None = None
    ) -> list[ScheduledRead]:
        found: list[tuple[Trigger, str]] = []
        with self._db.read() as conn:
            for start in range(0, len(pks), _READ_CHUNK):
                found += [
                    (_trigger(row), row.actions_text)
                    for row in conn.execute(
                        select(TRIGGERS, _ACTIONS_TEXT).where(
                            TRIGGERS.c.id.in_(pks[start : start + _READ_CHUNK])
                        )
                    )
                ]
        if network is None:
            return [ScheduledRead(trigger, text) for trigger, text in found]
        nets = {trigger.pk: _networks(trigger, network) for trigger, _ in found}
        jobs = {
            key: (row, _definition_of(row))
            for key, row in self._jobs_of(
                [trigger for trigger, _ in found if not trigger.workflow_name]
            ).items()
        }
        return [
            ScheduledRead(
                trigger,
                text,
                _PreparedRuns(nets[trigger.pk], _prepared_rows(trigger, nets[trigger.pk], jobs)),
            )
            for trigger, text in found
        ]

    def _jobs_of(self, triggers: Sequence[Trigger]) -> dict[tuple[str, str], Row]:
        """The rows of the jobs that triggers' actions start, by (account, name)."""
        keys = sorted(
            {
                (trigger.account, action.job_name)
                for trigger in triggers
                for action in trigger.actions
                if not action.crawler_name
            }
        )
        jobs: dict[tuple[str, str], Row] = {}
        with self._db.read() as conn:
            for start in range(0, len(keys), _CLAIM_CHUNK):
                jobs.update(
                    ((row.account, row.name), row)
                    for row in conn.execute(
                        select(JOBS).where(
                            tuple_(JOBS.c.account, JOBS.c.name).in_(
                                keys[start : start + _CLAIM_CHUNK]
                            )
                        )
                    )
                )
        return jobs

    def fire_scheduled(
        self,
        trigger: Trigger,
        due: datetime,
        next_fire_at: datetime | None,
        fire: bool,
        network: Network,
        fence: Fence | None,
    ) -> FireResult | None:
        (result,) = self.fire_scheduled_many(
            [ScheduledFire(trigger, due, next_fire_at, fire)], network, fence
        )
        return result

    def fire_scheduled_many(
        self, fires: Sequence[ScheduledFire], network: Network, fence: Fence | None
    ) -> list[FireResult | None]:
        """Set-based: one conditional update per (due, next) group moves the triggers (those
        it returns were still due) and returns their actions as stored: a fire read with its
        actions (actions_text) uses its trigger as read, unless they changed since (then it is
        left due, None); one read without them reads the trigger again; each job's
        slots are claimed for all its runs at once (one at a time when the cap is near), and
        the runs are inserted in one statement."""
        nets = {
            f.trigger.pk: f.runs.nets
            if isinstance(f.runs, _PreparedRuns)
            else _networks(f.trigger, network)
            for f in fires
            if f.fire
        }
        groups: dict[tuple[datetime, datetime | None], list[int]] = defaultdict(list)
        for fire in fires:
            groups[(fire.due, fire.next_fire_at)].append(fire.trigger.pk)
        with self._db.write() as conn:
            if fence is not None:
                check_fence(conn, fence)
            moved: dict[int, str] = {}
            for (due, next_fire_at), pks in groups.items():
                moved.update(
                    (row.id, row.actions_text)
                    for row in conn.execute(
                        update(TRIGGERS)
                        .where(
                            TRIGGERS.c.id.in_(pks),
                            TRIGGERS.c.state == str(TriggerState.ACTIVATED),
                            TRIGGERS.c.next_fire_at == due,
                        )
                        .values(next_fire_at=next_fire_at)
                        .returning(TRIGGERS.c.id, _ACTIONS_TEXT)
                    )
                )
            current: dict[int, Trigger] = {}
            # The rows built ahead for the triggers used as read.
            built: dict[int, Mapping[int, tuple[tuple[Any, ...], dict[str, Any]]]] = {}
            unread: list[int] = []
            for fire in fires:
                pk = fire.trigger.pk
                if not fire.fire or pk not in moved:
                    continue
                if not fire.actions_text:
                    unread.append(pk)
                elif fire.actions_text == moved[pk]:
                    current[pk] = fire.trigger
                    if isinstance(fire.runs, _PreparedRuns):
                        built[pk] = fire.runs.rows
                else:
                    # Its actions changed since it was read: left due (moved back), for a fire
                    # that reads it again (and resolves its jobs' networks before).
                    conn.execute(
                        update(TRIGGERS).where(TRIGGERS.c.id == pk).values(next_fire_at=fire.due)
                    )
                    del moved[pk]
            for start in range(0, len(unread), _READ_CHUNK):
                chunk = unread[start : start + _READ_CHUNK]
                current.update(
                    (row.id, _trigger(row))
                    for row in conn.execute(select(TRIGGERS).where(TRIGGERS.c.id.in_(chunk)))
                )
            started = self._start_many(conn, [current[pk] for pk in sorted(current)], nets, built)
        results: list[FireResult | None] = []
        for fire in fires:
            pk = fire.trigger.pk
            if pk not in moved:
                results.append(None)
            elif pk in started:
                results.append(started[pk])
            else:
                results.append(FireResult(fire.trigger.account, fire.trigger.name))
        return results

    def _start_many(
        self,
        conn: Connection,
        triggers: Sequence[Trigger],
        nets: Mapping[int, Mapping[str, tuple[str, str]]],
        built: Mapping[int, Mapping[int, tuple[tuple[Any, ...], dict[str, Any]]]],
    ) -> dict[int, FireResult]:
        """_start_actions of many triggers: each job's slots claimed at once, one insert (a
        workflow's start trigger begins a workflow run, one at a time). A run row built ahead
        (built: by trigger pk and action index, with its job's definition as read) is used
        while the claimed job still reads the same."""
        now = self._now()
        results: dict[int, FireResult] = {
            t.pk: self._start_actions(conn, t, nets.get(t.pk, {}))
            for t in triggers
            if t.workflow_name
        }
        triggers = [t for t in triggers if not t.workflow_name]
        wanted: dict[tuple[str, str, str], int] = defaultdict(int)
        for trigger in triggers:
            for action in trigger.actions:
                if not action.crawler_name and action.job_name in nets.get(trigger.pk, {}):
                    wanted[(trigger.account, action.job_name, action.role)] += 1
        # Jobs whose slots were all claimed at once, by (account, name, role): their rows. One
        # statement per (count, role) and chunk of jobs: most fires' jobs share both.
        claimed: dict[tuple[str, str, str], Row] = {}
        groups: dict[tuple[int, str], list[tuple[str, str]]] = defaultdict(list)
        for (account, job_name, role), count in wanted.items():
            groups[(count, role)].append((account, job_name))
        for (count, role), keys in groups.items():
            for start in range(0, len(keys), _CLAIM_CHUNK):
                taken = conn.execute(
                    update(JOBS)
                    .where(
                        tuple_(JOBS.c.account, JOBS.c.name).in_(keys[start : start + _CLAIM_CHUNK]),
                        JOBS.c.role == role,
                        JOBS.c.active_runs + count <= JOBS.c.max_concurrent_runs,
                    )
                    .values(active_runs=JOBS.c.active_runs + count)
                    .returning(*JOBS.c)
                ).all()
                for job in taken:
                    claimed[(job.account, job.name, role)] = job
        rows: list[dict[str, Any]] = []
        definitions: dict[int, tuple[Any, ...]] = {}
        for trigger in triggers:
            trigger_nets = nets.get(trigger.pk, {})
            runs: list[tuple[str, str]] = []
            skipped: list[tuple[str, str]] = []
            crawls: list[tuple[str, str]] = []
            trigger_built = built.get(trigger.pk, {})
            for index, action in enumerate(trigger.actions):
                if action.crawler_name:
                    _start_crawler(conn, trigger, action, crawls, skipped)
                    continue
                if action.job_name not in trigger_nets:
                    skipped.append((action.job_name, "its job or its job's connection is gone"))
                    continue
                job = claimed.get((trigger.account, action.job_name, action.role))
                if job is None:
                    try:
                        job = claim_run_slot(conn, trigger.account, action.job_name, action.role)
                    except _SKIPPED as exc:
                        skipped.append((action.job_name, exc.message))
                        continue
                ahead = trigger_built.get(index)
                if job.id not in definitions:
                    # Once per job: its row is locked, so it reads the same all transaction.
                    definitions[job.id] = _definition_of(job)
                if ahead is not None and ahead[0] == definitions[job.id]:
                    values = ahead[1] | {"started_on": now, "last_modified_on": now}
                else:
                    values = _run_row(trigger, index, job, trigger_nets, now)
                rows.append(values)
                runs.append((action.job_name, values["run_id"]))
            _log_skipped(trigger, skipped)
            results[trigger.pk] = FireResult(
                trigger.account, trigger.name, tuple(runs), tuple(skipped), tuple(crawls)
            )
        insert_rows(conn, JOB_RUNS, rows)
        return results

    def finished_jobs_since(self, since: datetime) -> frozenset[tuple[str, str]]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(JOB_RUNS.c.account, JOB_RUNS.c.job_name)
                .where(JOB_RUNS.c.completed_on >= since.astimezone(UTC))
                .distinct()
            ).all()
        return frozenset((row.account, row.job_name) for row in rows)

    def finished_crawlers_since(self, since: datetime) -> frozenset[tuple[str, str]]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(CRAWLS.c.account, CRAWLS.c.crawler_name)
                .where(CRAWLS.c.ended_on >= since.astimezone(UTC))
                .distinct()
            ).all()
        return frozenset((row.account, row.crawler_name) for row in rows)

    def activated_conditional(self) -> Sequence[Trigger]:
        """Read lightly: each trigger's key (its last change, predicate and actions as stored
        text); only those new or changed since the last call are read in full and decoded (the
        firer asks at each pass)."""
        activated = (
            TRIGGERS.c.state == str(TriggerState.ACTIVATED),
            TRIGGERS.c.type == str(TriggerType.CONDITIONAL),
            # A workflow's triggers fire only within its runs (workflows.sql_store).
            TRIGGERS.c.workflow_name == "",
        )
        with self._db.read() as conn:
            keys = {
                row.id: (row.last_modified_on, row.predicate_text, row.actions_text)
                for row in conn.execute(
                    select(
                        TRIGGERS.c.id,
                        TRIGGERS.c.last_modified_on,
                        cast(TRIGGERS.c.predicate, Text).label("predicate_text"),
                        _ACTIONS_TEXT,
                    ).where(*activated)
                )
            }
            with self._conditional_lock:
                known = {
                    pk: entry for pk, entry in self._conditional.items() if keys.get(pk) == entry[0]
                }
            missing = sorted(pk for pk in keys if pk not in known)
            for start in range(0, len(missing), _READ_CHUNK):
                chunk = missing[start : start + _READ_CHUNK]
                for row in conn.execute(
                    select(
                        TRIGGERS,
                        cast(TRIGGERS.c.predicate, Text).label("predicate_text"),
                        _ACTIONS_TEXT,
                    ).where(TRIGGERS.c.id.in_(chunk), *activated)
                ):
                    key = (row.last_modified_on, row.predicate_text, row.actions_text)
                    known[row.id] = (key, _trigger(row))
        with self._conditional_lock:
            self._conditional = known
        return tuple(known[pk][1] for pk in sorted(known))

    def ready_conditional(self, triggers: Sequence[Trigger]) -> list[Trigger]:
        ready: list[Trigger] = []
        for start in range(0, len(triggers), _READY_CHUNK):
            ready += self._ready(triggers[start : start + _READY_CHUNK])
        return ready

    def _ready(self, triggers: Sequence[Trigger]) -> list[Trigger]:
        with_predicate = [t for t in triggers if t.predicate is not None]
        if not with_predicate:
            return []
        pks = [t.pk for t in with_predicate]
        with self._db.read() as conn:
            activated = {
                row.id: row.activated_on
                for row in conn.execute(
                    select(TRIGGERS.c.id, TRIGGERS.c.activated_on).where(
                        TRIGGERS.c.id.in_(pks),
                        TRIGGERS.c.state == str(TriggerState.ACTIVATED),
                        TRIGGERS.c.activated_on.is_not(None),
                    )
                )
            }
            if not activated:
                return []
            since = min(activated.values())
            accounts = sorted({t.account for t in with_predicate})
            conditions = [c for t in with_predicate for c in t.predicate.conditions]  # type: ignore[union-attr]
            jobs = sorted({c.job_name for c in conditions if not c.crawler_name})
            crawlers = sorted({c.crawler_name for c in conditions if c.crawler_name})
            by_key: dict[tuple[str, str, str], list[_Finished]] = defaultdict(list)
            counted: set[tuple[int, str, int]] = set()
            if jobs:
                following = _FOLLOWING
                runs = conn.execute(
                    select(
                        JOB_RUNS.c.id,
                        JOB_RUNS.c.account,
                        JOB_RUNS.c.job_name,
                        JOB_RUNS.c.state,
                        JOB_RUNS.c.completed_on,
                    )
                    .where(
                        JOB_RUNS.c.completed_on >= since,
                        JOB_RUNS.c.account.in_(accounts),
                        JOB_RUNS.c.job_name.in_(jobs),
                        JOB_RUNS.c.state.in_(state_values(TERMINAL_STATES)),
                        ~exists().where(
                            and_(
                                following.c.job_id == JOB_RUNS.c.job_id,
                                following.c.previous_run_id == JOB_RUNS.c.run_id,
                            )
                        ),
                    )
                    .order_by(JOB_RUNS.c.id)
                ).all()
                for run in runs:
                    by_key[("job", run.account, run.job_name)].append(
                        _Finished("job", run.id, run.job_name, run.state, run.completed_on)
                    )
                if runs:
                    counted.update(
                        (row.trigger_pk, "job", row.run_pk)
                        for row in conn.execute(
                            select(TRIGGER_CONSUMED_RUNS).where(
                                TRIGGER_CONSUMED_RUNS.c.trigger_pk.in_(list(activated)),
                                TRIGGER_CONSUMED_RUNS.c.run_pk >= runs[0].id,
                            )
                        )
                    )
            if crawlers:
                crawls = conn.execute(
                    select(
                        CRAWLS.c.id,
                        CRAWLS.c.crawl_id,
                        CRAWLS.c.account,
                        CRAWLS.c.crawler_name,
                        CRAWLS.c.state,
                        CRAWLS.c.ended_on,
                    )
                    .where(
                        CRAWLS.c.ended_on >= since,
                        CRAWLS.c.account.in_(accounts),
                        CRAWLS.c.crawler_name.in_(crawlers),
                        CRAWLS.c.state.in_(_FINAL_CRAWL_STATES),
                    )
                    .order_by(CRAWLS.c.id)
                ).all()
                for crawl in crawls:
                    by_key[("crawler", crawl.account, crawl.crawler_name)].append(_crawl(crawl))
                if crawls:
                    counted.update(
                        (row.trigger_pk, "crawler", row.crawl_id)
                        for row in conn.execute(
                            select(TRIGGER_CONSUMED_CRAWLS).where(
                                TRIGGER_CONSUMED_CRAWLS.c.trigger_pk.in_(list(activated)),
                                TRIGGER_CONSUMED_CRAWLS.c.crawl_id.in_(
                                    [crawl.crawl_id for crawl in crawls]
                                ),
                            )
                        )
                    )
        ready = []
        for trigger in with_predicate:
            since = activated.get(trigger.pk)
            if since is None or trigger.predicate is None:
                continue
            watched = {_watched(trigger.account, c) for c in trigger.predicate.conditions}
            candidates = _ordered(
                [
                    item
                    for key in watched
                    for item in by_key.get(key, ())
                    if item.ended >= since and (trigger.pk, item.kind, item.key) not in counted
                ]
            )
            if _satisfied(trigger.predicate, candidates) is not None:
                ready.append(trigger)
        return ready

    def fire_conditional(
        self, trigger: Trigger, network: Network, fence: Fence | None
    ) -> FireResult | None:
        predicate = trigger.predicate
        if predicate is None:
            return None
        # Most evaluations find nothing to fire: they look first without taking the write lock.
        with self._db.read() as conn:
            row = _row(conn, trigger.account, trigger.name)
            if row.state != str(TriggerState.ACTIVATED) or row.activated_on is None:
                return None
            if _satisfied(predicate, _new_finished(conn, row, predicate)) is None:
                return None
        with self._db.write() as conn:
            if fence is not None:
                check_fence(conn, fence)
            return self._fire_conditional_in(conn, trigger, network)

    def fire_conditional_many(
        self, triggers: Sequence[Trigger], network: Network, fence: Fence | None
    ) -> list[FireResult | None]:
        """fire_conditional of each, in one transaction (a trigger deleted meanwhile: None).
        The triggers come from ready_conditional, so each is judged under the write lock at
        once, without a look beforehand."""
        results: list[FireResult | None] = []
        with self._db.write() as conn:
            if fence is not None:
                check_fence(conn, fence)
            for trigger in triggers:
                try:
                    results.append(self._fire_conditional_in(conn, trigger, network))
                except EntityNotFound:
                    results.append(None)
        return results

    def _fire_conditional_in(
        self, conn: Connection, trigger: Trigger, network: Network
    ) -> FireResult | None:
        """In a write transaction: fire trigger once if the runs finished since it last fired
        satisfy its predicate (as stored, which must be the one trigger was read with)."""
        predicate = trigger.predicate
        if predicate is None:
            return None
        row = _row(conn, trigger.account, trigger.name, lock=True)
        if row.state != str(TriggerState.ACTIVATED) or row.activated_on is None:
            return None
        current = _trigger(row)
        if current.predicate != predicate:
            return None  # updated meanwhile: the next pass reads it again
        candidates = _new_finished(conn, row, predicate)
        consumed = _satisfied(predicate, candidates)
        if consumed is None:
            return None
        runs = [item.pk for item in consumed if item.kind == "job"]
        crawls = [item.crawl_id for item in consumed if item.kind == "crawler"]
        if runs:
            conn.execute(
                insert(TRIGGER_CONSUMED_RUNS),
                [{"trigger_pk": row.id, "run_pk": pk} for pk in runs],
            )
        if crawls:
            conn.execute(
                insert(TRIGGER_CONSUMED_CRAWLS),
                [{"trigger_pk": row.id, "crawl_id": crawl_id} for crawl_id in crawls],
            )
        return self._start_actions(conn, current, _networks(current, network))

    def due_event_windows(self, now: datetime) -> Sequence[Trigger]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(TRIGGERS).where(
                    TRIGGERS.c.state == str(TriggerState.ACTIVATED),
                    TRIGGERS.c.type == str(TriggerType.EVENT),
                    TRIGGERS.c.first_event_at.is_not(None),
                )
            ).all()
        at = now.astimezone(UTC)
        return tuple(
            _trigger(row)
            for row in rows
            if row.first_event_at + timedelta(seconds=row.batch_window) <= at
        )

    def fire_event_window(
        self, trigger: Trigger, now: datetime, network: Network, fence: Fence | None
    ) -> FireResult | None:
        nets = _networks(trigger, network)
        with self._db.write() as conn:
            if fence is not None:
                check_fence(conn, fence)
            row = _row(conn, trigger.account, trigger.name, lock=True)
            if (
                row.state != str(TriggerState.ACTIVATED)
                or row.first_event_at is None
                or row.first_event_at + timedelta(seconds=row.batch_window) > now.astimezone(UTC)
            ):
                return None
            conn.execute(
                update(TRIGGERS)
                .where(TRIGGERS.c.id == row.id)
                .values(event_count=0, first_event_at=None)
            )
            return self._start_actions(conn, _trigger(row), nets)

    # Starting runs

    def _start_actions(
        self,
        conn: Connection,
        trigger: Trigger,
        nets: Mapping[str, tuple[str, str]],
        workflow_run_id: str | None = None,
    ) -> FireResult:
        """A run of each action's job, in conn's transaction; an action whose job is gone, at
        its cap, or no longer has the role its trigger's author passed is skipped. Within a
        workflow run, the runs record it and get --WORKFLOW_NAME and --WORKFLOW_RUN_ID, as
        Glue passes them. A workflow's start trigger firing outside a run begins one."""
        if trigger.workflow_name and workflow_run_id is None:
            if self.workflow_starter is None:
                reason = "no workflow store serves its workflow"
                return FireResult(
                    trigger.account, trigger.name, (), ((trigger.workflow_name, reason),)
                )
            return self.workflow_starter(conn, trigger, nets)
        now = self._now()
        runs: list[tuple[str, str]] = []
        skipped: list[tuple[str, str]] = []
        crawls: list[tuple[str, str]] = []
        for action in trigger.actions:
            if action.crawler_name:
                _start_crawler(conn, trigger, action, crawls, skipped, workflow_run_id)
                continue
            if action.job_name not in nets:
                skipped.append((action.job_name, "its job or its job's connection is gone"))
                continue
            try:
                job = claim_run_slot(conn, trigger.account, action.job_name, action.role)
            except _SKIPPED as exc:
                skipped.append((action.job_name, exc.message))
                continue
            subnet_id, security_group_id = nets[action.job_name]
            arguments = dict(action.arguments)
            if workflow_run_id:
                arguments["--WORKFLOW_NAME"] = trigger.workflow_name
                arguments["--WORKFLOW_RUN_ID"] = workflow_run_id
            run_id = insert_run(
                conn,
                job,
                now,
                arguments,
                trigger_name=trigger.name,
                subnet_id=subnet_id,
                security_group_id=security_group_id,
                timeout=action.timeout or None,
                notify_delay_after=action.notify_delay_after or None,
                workflow_run_id=workflow_run_id,
            )
            runs.append((action.job_name, run_id))
        _log_skipped(trigger, skipped)
        return FireResult(trigger.account, trigger.name, tuple(runs), tuple(skipped), tuple(crawls))


def _start_crawler(
    conn: Connection,
    trigger: Trigger,
    action: Action,
    crawls: list[tuple[str, str]],
    skipped: list[tuple[str, str]],
    workflow_run_id: str | None = None,
) -> None:
    """Begins a crawl of action's crawler in conn's transaction through the crawler store's
    own start (its READY -> RUNNING conditional update); a server's crawl runner takes and runs
    it after the commit. Skipped while the crawler runs, is gone or changed its role (a
    refused start has written nothing)."""
    try:
        crawl_id = begin_crawl(
            conn,
            trigger.account,
            action.crawler_name,
            PENDING_OWNER,
            role=action.role,
            workflow_run_id=workflow_run_id,
        )
    except _CRAWL_SKIPPED as exc:
        skipped.append((action.crawler_name, exc.message))
        return
    crawls.append((action.crawler_name, crawl_id))


def _log_skipped(trigger: Trigger, skipped: Sequence[tuple[str, str]]) -> None:
    for name, why in skipped:
        log.warning("trigger %s did not start %s: %s", trigger.name, name, why)


@dataclass(frozen=True)
class _PreparedRuns:
    """A SCHEDULED fire's runs prepared when its trigger was read ahead (ScheduledRead.runs):
    its jobs' networks (as _networks), and by action index the run's row with the definition
    of the job it was built from (_definition_of)."""

    nets: dict[str, tuple[str, str]]
    rows: dict[int, tuple[tuple[Any, ...], dict[str, Any]]]


# A job row's columns that a run row is built from: all but its count of active runs.
_DEFINITION = tuple(column.name for column in JOBS.columns if column.name != "active_runs")


# The times of a run row built ahead (the fire sets them).
_BUILT_AHEAD = datetime.min.replace(tzinfo=UTC)


def _definition_of(job: Row) -> tuple[Any, ...]:
    values = job._mapping
    return tuple(values[name] for name in _DEFINITION)


def _run_row(
    trigger: Trigger,
    index: int,
    job: Row,
    nets: Mapping[str, tuple[str, str]],
    now: datetime,
) -> dict[str, Any]:
    """The row of the run that trigger's action index starts, of job."""
    action = trigger.actions[index]
    subnet_id, security_group_id = nets[action.job_name]
    return run_values(
        job,
        now,
        dict(action.arguments),
        trigger_name=trigger.name,
        subnet_id=subnet_id,
        security_group_id=security_group_id,
        timeout=action.timeout or None,
        notify_delay_after=action.notify_delay_after or None,
    )


def _prepared_rows(
    trigger: Trigger,
    nets: Mapping[str, tuple[str, str]],
    jobs: Mapping[tuple[str, str], tuple[Row, tuple[Any, ...]]],
) -> dict[int, tuple[tuple[Any, ...], dict[str, Any]]]:
    """The run rows of trigger's job actions, built from jobs as read, each with its
    definition (by action index; an action whose job or network is missing, or whose row
    cannot be built, is left to the fire). A workflow's start trigger has none: its fire
    begins a workflow run."""
    if trigger.workflow_name:
        return {}
    rows: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    for index, action in enumerate(trigger.actions):
        found = jobs.get((trigger.account, action.job_name))
        if action.crawler_name or found is None or action.job_name not in nets:
            continue
        job, definition = found
        try:
            row = _run_row(trigger, index, job, nets, _BUILT_AHEAD)
        except Exception:
            log.debug("trigger %s: its run's row is left to the fire", trigger.name, exc_info=True)
            continue
        rows[index] = (definition, row)
    return rows


def _networks(trigger: Trigger, network: Network) -> dict[str, tuple[str, str]]:
    """Each action's job's subnet and security group, resolved before the fire's transaction
    (a job or connection that is gone gives none: the fire skips that action)."""
    nets: dict[str, tuple[str, str]] = {}
    for action in trigger.actions:
        if action.crawler_name:
            continue
        try:
            nets[action.job_name] = network(trigger.account, action.job_name)
        except EntityNotFound:
            continue
    return nets


def _new_finished(conn: Connection, row: Row, predicate: Predicate) -> list[_Finished]:
    """The watched jobs' runs and crawlers' crawls that ended since the trigger was activated,
    are final (no retry attempt follows a run) and that the trigger has not counted yet, oldest
    first."""
    jobs = sorted({c.job_name for c in predicate.conditions if not c.crawler_name})
    crawlers = sorted({c.crawler_name for c in predicate.conditions if c.crawler_name})
    found: list[_Finished] = []
    if jobs:
        following = _FOLLOWING
        found += [
            _Finished("job", run.id, run.job_name, run.state, run.completed_on)
            for run in conn.execute(
                select(
                    JOB_RUNS.c.id, JOB_RUNS.c.job_name, JOB_RUNS.c.state, JOB_RUNS.c.completed_on
                )
                .where(
                    JOB_RUNS.c.account == row.account,
                    JOB_RUNS.c.job_name.in_(jobs),
                    JOB_RUNS.c.state.in_(state_values(TERMINAL_STATES)),
                    JOB_RUNS.c.completed_on >= row.activated_on,
                    ~exists().where(
                        TRIGGER_CONSUMED_RUNS.c.trigger_pk == row.id,
                        TRIGGER_CONSUMED_RUNS.c.run_pk == JOB_RUNS.c.id,
                    ),
                    ~exists().where(
                        and_(
                            following.c.job_id == JOB_RUNS.c.job_id,
                            following.c.previous_run_id == JOB_RUNS.c.run_id,
                        )
                    ),
                )
                .order_by(JOB_RUNS.c.id)
                .limit(_MAX_CANDIDATES)
            )
        ]
    if crawlers:
        found += [
            _crawl(crawl)
            for crawl in conn.execute(
                select(
                    CRAWLS.c.id,
                    CRAWLS.c.crawl_id,
                    CRAWLS.c.crawler_name,
                    CRAWLS.c.state,
                    CRAWLS.c.ended_on,
                )
                .where(
                    CRAWLS.c.account == row.account,
                    CRAWLS.c.crawler_name.in_(crawlers),
                    CRAWLS.c.state.in_(_FINAL_CRAWL_STATES),
                    CRAWLS.c.ended_on >= row.activated_on,
                    ~exists().where(
                        TRIGGER_CONSUMED_CRAWLS.c.trigger_pk == row.id,
                        TRIGGER_CONSUMED_CRAWLS.c.crawl_id == CRAWLS.c.crawl_id,
                    ),
                )
                .order_by(CRAWLS.c.id)
                .limit(_MAX_CANDIDATES)
            )
        ]
    return _ordered(found)


def _crawl(row: Row) -> _Finished:
    return _Finished(
        "crawler",
        row.id,
        row.crawler_name,
        str(CRAWL_STATES[row.state]),
        row.ended_on,
        crawl_id=row.crawl_id,
    )


def _watched(account: str, condition: Condition) -> tuple[str, str, str]:
    if condition.crawler_name:
        return ("crawler", account, condition.crawler_name)
    return ("job", account, condition.job_name)


def _ordered(items: list[_Finished]) -> list[_Finished]:
    """Job runs alone in the order they were made (as before crawlers); with crawls, in the
    order they ended."""
    if all(item.kind == "job" for item in items):
        return sorted(items, key=lambda item: item.pk)
    return sorted(items, key=lambda item: (item.ended, item.kind, item.pk))


def _wanted(condition: Condition) -> tuple[str, str, str]:
    if condition.crawler_name:
        return ("crawler", condition.crawler_name, str(condition.crawl_state))
    return ("job", condition.job_name, str(condition.state))


def _satisfied(predicate: Predicate, candidates: Sequence[_Finished]) -> list[_Finished] | None:
    """The runs and crawls a fire counts if the candidates satisfy the predicate, else None.

    ANY: the oldest candidate meeting a condition fires; it and the candidates before it are
    counted (a later one fires at the next evaluation). AND: each condition's job's (crawler's)
    latest candidate must meet it; every candidate is counted.
    """
    if predicate.logical is Logical.ANY:
        wanted = {_wanted(c) for c in predicate.conditions}
        for index, item in enumerate(candidates):
            if (item.kind, item.name, item.state) in wanted:
                return list(candidates[: index + 1])
        return None
    latest = {(item.kind, item.name): item.state for item in candidates}
    if all(latest.get(_wanted(c)[:2]) == _wanted(c)[2] for c in predicate.conditions):
        return list(candidates)
    return None


def _matches(row: Row, job_name: str, tags: Mapping[str, str]) -> bool:
    if job_name and not any(action.get("job_name") == job_name for action in row.actions):
        return False
    return all(row.tags.get(key) == value for key, value in tags.items())


def _row(conn: Connection, account: str, name: str, *, lock: bool = False) -> Row:
    stmt = select(TRIGGERS).where(TRIGGERS.c.account == account, TRIGGERS.c.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise EntityNotFound(f"Trigger {name} not found")
    return row


def _definition(trigger: TriggerInput) -> dict[str, Any]:
    batching = trigger.event_batching
    predicate = trigger.predicate
    return {
        "description": trigger.description,
        "schedule": trigger.schedule,
        "time_zone": trigger.time_zone,
        "actions": [
            {
                "job_name": action.job_name,
                "arguments": dict(action.arguments),
                "timeout": action.timeout,
                "security_configuration": action.security_configuration,
                "notify_delay_after": action.notify_delay_after,
                "role": action.role,
                "crawler_name": action.crawler_name,
            }
            for action in trigger.actions
        ],
        "predicate": (
            {}
            if predicate is None
            else {
                "logical": str(predicate.logical),
                "conditions": [
                    (
                        {"crawler_name": c.crawler_name, "crawl_state": str(c.crawl_state)}
                        if c.crawler_name
                        else {"job_name": c.job_name, "state": str(c.state)}
                    )
                    for c in predicate.conditions
                ],
            }
        ),
        "batch_size": batching.batch_size if batching else 0,
        "batch_window": batching.batch_window if batching else 0,
    }


def _activation(trigger: TriggerInput, state: TriggerState, now: datetime) -> dict[str, Any]:
    """The columns activating a trigger sets (none unless state is ACTIVATED)."""
    if state is not TriggerState.ACTIVATED:
        return {
            "next_fire_at": None,
            "activated_on": None,
            "first_event_at": None,
            "event_count": 0,
        }
    next_fire_at = None
    if trigger.type is TriggerType.SCHEDULED:
        next_fire_at = GlueCron.compile(trigger.schedule, trigger.time_zone).next_after(now)
    return {
        "next_fire_at": next_fire_at,
        "activated_on": now,
        "first_event_at": None,
        "event_count": 0,
    }


def _trigger(row: Row) -> Trigger:
    predicate = None
    if row.predicate:
        predicate = Predicate(
            logical=Logical(row.predicate["logical"]),
            conditions=tuple(_condition(c) for c in row.predicate["conditions"]),
        )
    return Trigger(
        name=row.name,
        account=row.account,
        id=row.trigger_id,
        type=TriggerType(row.type),
        state=TriggerState(row.state),
        actions=tuple(
            Action(
                job_name=a["job_name"],
                arguments=dict(a["arguments"]),
                timeout=a["timeout"],
                security_configuration=a["security_configuration"],
                notify_delay_after=a["notify_delay_after"],
                role=a["role"],
                crawler_name=a.get("crawler_name", ""),
            )
            for a in row.actions
        ),
        description=row.description,
        schedule=row.schedule,
        time_zone=row.time_zone,
        predicate=predicate,
        event_batching=(
            EventBatching(row.batch_size, row.batch_window) if row.batch_size else None
        ),
        workflow_name=row.workflow_name,
        tags=dict(row.tags),
        next_fire_at=row.next_fire_at,
        pending_events=row.event_count,
        created_on=row.created_on,
        last_modified_on=row.last_modified_on,
        pk=row.id,
    )


def _condition(value: Mapping[str, Any]) -> Condition:
    if value.get("crawler_name"):
        return Condition(
            "", crawler_name=value["crawler_name"], crawl_state=CrawlState(value["crawl_state"])
        )
    return Condition(value["job_name"], RunState(value["state"]))
