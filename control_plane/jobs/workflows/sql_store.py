"""The SQL workflow store: SQLite or PostgreSQL through the same code.

Exactly once, as for triggers: a workflow run's slot is claimed with a conditional update of
its workflow's active_runs; each trigger fires at most once per workflow run (the primary key
of trigger_workflow_fires), in the transaction that starts its actions; a run ends with a
conditional update of its status. Everything is decided from the tables, so a restarted server
(or the scheduler lease's next holder) goes on where the last one stopped.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sluice.common.db import Database
from sluice.common.errors import (
    AlreadyExists,
    ConcurrentRunsExceeded,
    EntityNotFound,
    IllegalWorkflowState,
    InvalidInput,
)
from sluice.common.paging import Page, PageRequest, PageTokenCodec
from sluice.control_plane.crawlers.sql_store import CRAWLS
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.leases import Fence, LeaseLost
from sluice.control_plane.jobs.model import TERMINAL_STATES, JobRun, RunState
from sluice.control_plane.jobs.rows import JOB_RUNS
from sluice.control_plane.jobs.sql_base import run_from_row, state_values, utc_now
from sluice.control_plane.jobs.sql_leases import check_fence
from sluice.control_plane.jobs.triggers.model import CRAWL_STATES, Trigger, TriggerType
from sluice.control_plane.jobs.triggers.rows import TRIGGERS
from sluice.control_plane.jobs.triggers.sql_store import (
    _FINAL_CRAWL_STATES,
    SqlTriggerStore,
    _crawl,
    _Finished,
    _networks,
    _ordered,
    _satisfied,
    _trigger,
)
from sluice.control_plane.jobs.triggers.store import FireResult, Network
from sluice.control_plane.jobs.workflows import model
from sluice.control_plane.jobs.workflows.graph import GraphNode, downstream, of_trigger
from sluice.control_plane.jobs.workflows.model import (
    ACTIVE_STATUSES,
    RunStatus,
    Statistics,
    Workflow,
    WorkflowCrawl,
    WorkflowInput,
    WorkflowRun,
)
from sluice.control_plane.jobs.workflows.rows import (
    TRIGGER_WORKFLOW_FIRES,
    WORKFLOW_RUNS,
    WORKFLOWS,
)

log = logging.getLogger("sluice.workflows")

_ACTIVE = sorted(str(s) for s in ACTIVE_STATUSES)
# The runs that follow a run (its retry attempts), made once (see the trigger store's).
_FOLLOWING = JOB_RUNS.alias("following_runs")
# How far back a resumed run's earlier runs are followed.
_MAX_RESUMES = 100


def new_workflow_run_id() -> str:
    return model.WORKFLOW_RUN_ID_PREFIX + secrets.token_hex(16)


@dataclass(frozen=True)
class _ActiveRun:
    pk: int
    account: str
    workflow_name: str
    run_id: str


class SqlWorkflowStore:
    """Workflows, their runs, and the firing of their triggers within runs; over the jobs
    schema, starting runs through the trigger store's actions."""

    def __init__(
        self,
        db: Database,
        page_tokens: PageTokenCodec,
        triggers: SqlTriggerStore,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._tokens = page_tokens
        self._triggers = triggers
        self._clock = clock
        triggers.workflow_starter = self._start_fired

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # Definitions

    def create_workflow(self, account: str, value: WorkflowInput) -> Workflow:
        acc = checks.account(account)
        workflow = model.checked(value)
        now = self._now()
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(WORKFLOWS).values(
                        account=acc,
                        name=workflow.name,
                        description=workflow.description,
                        default_run_properties=dict(workflow.default_run_properties),
                        max_concurrent_runs=workflow.max_concurrent_runs,
                        active_runs=0,
                        tags=dict(workflow.tags),
                        created_on=now,
                        last_modified_on=now,
                    )
                )
                return _workflow(_row(conn, acc, workflow.name), None)
        except IntegrityError:
            raise AlreadyExists(f"Workflow {value.name} already exists") from None

    def get_workflow(self, account: str, name: str) -> Workflow:
        acc = checks.account(account)
        with self._db.read() as conn:
            row = _row(conn, acc, model.workflow_name(name))
            last = conn.execute(
                select(WORKFLOW_RUNS)
                .where(WORKFLOW_RUNS.c.workflow_pk == row.id)
                .order_by(WORKFLOW_RUNS.c.id.desc())
                .limit(1)
            ).first()
            return _workflow(row, None if last is None else _run(conn, last))

    def list_workflow_names(self, account: str, page: PageRequest) -> Page[str]:
        acc = checks.account(account)
        query = self._tokens.page_query(page, str, "ListWorkflows", acc)
        with self._db.read() as conn:
            stmt = select(WORKFLOWS.c.name).where(WORKFLOWS.c.account == acc)
            if query.after is not None:
                stmt = stmt.where(WORKFLOWS.c.name > str(query.after))
            names = conn.execute(stmt.order_by(WORKFLOWS.c.name).limit(query.limit + 1)).scalars()
            kept, token = self._tokens.page_of(query, list(names), lambda name: name)
        return Page(items=tuple(kept), next_token=token)

    def update_workflow(self, account: str, value: WorkflowInput) -> Workflow:
        acc = checks.account(account)
        workflow = model.checked(value)
        with self._db.write() as conn:
            row = _row(conn, acc, workflow.name, lock=True)
            conn.execute(
                update(WORKFLOWS)
                .where(WORKFLOWS.c.id == row.id)
                .values(
                    description=workflow.description,
                    default_run_properties=dict(workflow.default_run_properties),
                    max_concurrent_runs=workflow.max_concurrent_runs,
                    last_modified_on=self._now(),
                )
            )
            return _workflow(_row(conn, acc, workflow.name), None)

    def delete_workflow(self, account: str, name: str) -> None:
        """Deletes the workflow, its triggers and its runs' records (job runs stay); a
        workflow that does not exist is no error, as in Glue."""
        acc = checks.account(account)
        workflow = model.workflow_name(name)
        its_triggers = delete(TRIGGERS).where(
            TRIGGERS.c.account == acc, TRIGGERS.c.workflow_name == workflow
        )
        with self._db.write() as conn:
            # Triggers first, then the workflow's row: the order a start trigger's fire locks
            # them in (no deadlock); again after, for one made in between.
            conn.execute(its_triggers)
            found = conn.execute(
                select(WORKFLOWS.c.id)
                .where(WORKFLOWS.c.account == acc, WORKFLOWS.c.name == workflow)
                .with_for_update()
            ).first()
            if found is None:
                return
            conn.execute(its_triggers)
            conn.execute(delete(WORKFLOW_RUNS).where(WORKFLOW_RUNS.c.workflow_pk == found.id))
            conn.execute(delete(WORKFLOWS).where(WORKFLOWS.c.id == found.id))

    def workflow_triggers(self, account: str, name: str) -> list[Trigger]:
        acc = checks.account(account)
        with self._db.read() as conn:
            return _workflow_triggers(conn, acc, model.workflow_name(name))

    # Runs

    def start_run(
        self, account: str, name: str, properties: Mapping[str, str], network: Network
    ) -> tuple[str, FireResult]:
        """A new RUNNING run firing the workflow's start trigger; ConcurrentRunsExceeded when
        the workflow has max_concurrent_runs active runs already."""
        acc = checks.account(account)
        workflow = model.workflow_name(name)
        model.run_properties(properties)
        with self._db.read() as conn:
            _row(conn, acc, workflow)
            start = _start_trigger(conn, acc, workflow)
        nets = _networks(start, network)
        with self._db.write() as conn:
            row = _row(conn, acc, workflow, lock=True)
            current = _start_trigger(conn, acc, workflow)
            if current.actions != start.actions:
                raise InvalidInput(f"Workflow {name} changed as its run started; start again")
            run_id = self._begin(conn, row, current, properties)
            fired = self._triggers._start_actions(conn, current, nets, workflow_run_id=run_id)
        return run_id, fired

    def _begin(
        self, conn: Connection, row: Row, start: Trigger, properties: Mapping[str, str]
    ) -> str:
        """A new RUNNING run of workflow row (locked) that start fired, in conn's transaction:
        its slot claimed, the start trigger's fire recorded. Its id; ConcurrentRunsExceeded
        (nothing written) when the workflow is at max_concurrent_runs."""
        claimed = conn.execute(
            update(WORKFLOWS)
            .where(
                WORKFLOWS.c.id == row.id,
                (WORKFLOWS.c.max_concurrent_runs == 0)
                | (WORKFLOWS.c.active_runs < WORKFLOWS.c.max_concurrent_runs),
            )
            .values(active_runs=WORKFLOWS.c.active_runs + 1)
        ).rowcount
        if not claimed:
            raise ConcurrentRunsExceeded(
                f"Workflow {row.name} has {row.max_concurrent_runs} runs already (its maximum)"
            )
        run_id = new_workflow_run_id()
        run_pk = conn.execute(
            insert(WORKFLOW_RUNS)
            .values(
                run_id=run_id,
                workflow_pk=row.id,
                account=row.account,
                workflow_name=row.name,
                previous_run_id="",
                status=str(RunStatus.RUNNING),
                properties={**row.default_run_properties, **properties},
                error_message="",
                resumed_nodes=[],
                graph=_snapshot(conn, row.account, row.name),
                started_on=self._now(),
                completed_on=None,
            )
            .returning(WORKFLOW_RUNS.c.id)
        ).scalar_one()
        conn.execute(
            insert(TRIGGER_WORKFLOW_FIRES).values(trigger_pk=start.pk, workflow_run_pk=run_pk)
        )
        return run_id

    def _start_fired(
        self, conn: Connection, trigger: Trigger, nets: Mapping[str, tuple[str, str]]
    ) -> FireResult:
        """The trigger store's workflow_starter: a SCHEDULED or EVENT start trigger fired, in
        its fire's transaction; the run is skipped (logged) when the workflow is gone or at
        its cap."""
        row = conn.execute(
            select(WORKFLOWS)
            .where(
                WORKFLOWS.c.account == trigger.account, WORKFLOWS.c.name == trigger.workflow_name
            )
            .with_for_update()
        ).first()
        try:
            if row is None:
                raise EntityNotFound(f"Workflow {trigger.workflow_name} is gone")
            run_id = self._begin(conn, row, trigger, {})
        except (EntityNotFound, ConcurrentRunsExceeded) as exc:
            log.warning("trigger %s did not start its workflow: %s", trigger.name, exc.message)
            return FireResult(
                trigger.account, trigger.name, (), ((trigger.workflow_name, exc.message),)
            )
        log.info("trigger %s started workflow %s run %s", trigger.name, row.name, run_id)
        return self._triggers._start_actions(conn, trigger, nets, workflow_run_id=run_id)

    def resume_run(
        self, account: str, name: str, run_id: str, node_ids: Sequence[str], network: Network
    ) -> tuple[str, list[str], FireResult]:
        """A new run after run_id (which has ended) that starts the given job nodes again
        (job/<name>, each through the action of the workflow's trigger that starts it); they
        and what follows them run again, the rest counts run_id's job runs. Its id, the nodes
        restarted and what the restart did."""
        acc = checks.account(account)
        workflow = model.workflow_name(name)
        wanted = list(dict.fromkeys(node_ids))
        if not wanted:
            raise InvalidInput("give the node_ids of the jobs to run again (job/<name>)")
        with self._db.read() as conn:
            previous = _run_row(conn, acc, workflow, run_id)
            triggers = _workflow_triggers(conn, acc, workflow)
        starters = _starters(triggers, wanted)
        if previous.status in _ACTIVE:
            raise IllegalWorkflowState(
                f"Workflow run {run_id} is {previous.status}: resume it once it has ended"
            )
        nets = {t.pk: _networks(t, network) for t, _ in starters.values()}
        now = self._now()
        new_id = new_workflow_run_id()
        with self._db.write() as conn:
            row = _row(conn, acc, workflow, lock=True)
            current = {t.pk: t for t in _workflow_triggers(conn, acc, workflow)}
            if any(current.get(t.pk) != t for t, _ in starters.values()):
                raise InvalidInput(f"Workflow {name} changed as its run resumed; resume again")
            claimed = conn.execute(
                update(WORKFLOWS)
                .where(
                    WORKFLOWS.c.id == row.id,
                    (WORKFLOWS.c.max_concurrent_runs == 0)
                    | (WORKFLOWS.c.active_runs < WORKFLOWS.c.max_concurrent_runs),
                )
                .values(active_runs=WORKFLOWS.c.active_runs + 1)
            ).rowcount
            if not claimed:
                raise ConcurrentRunsExceeded(
                    f"Workflow {name} has {row.max_concurrent_runs} runs already (its maximum)"
                )
            run_pk = conn.execute(
                insert(WORKFLOW_RUNS)
                .values(
                    run_id=new_id,
                    workflow_pk=row.id,
                    account=acc,
                    workflow_name=workflow,
                    previous_run_id=previous.run_id,
                    status=str(RunStatus.RUNNING),
                    properties=dict(previous.properties),
                    error_message="",
                    resumed_nodes=wanted,
                    graph=_snapshot(conn, acc, workflow),
                    started_on=now,
                    completed_on=None,
                )
                .returning(WORKFLOW_RUNS.c.id)
            ).scalar_one()
            # What fired before and does not follow a restarted node has fired in this run too.
            rerun = _rerun(list(current.values()), wanted)
            kept = [
                pk
                for pk in conn.execute(
                    select(TRIGGER_WORKFLOW_FIRES.c.trigger_pk).where(
                        TRIGGER_WORKFLOW_FIRES.c.workflow_run_pk == previous.id
                    )
                ).scalars()
                if pk in current and GraphNode("TRIGGER", current[pk].name) not in rerun
            ]
            if kept:
                conn.execute(
                    insert(TRIGGER_WORKFLOW_FIRES),
                    [{"trigger_pk": pk, "workflow_run_pk": run_pk} for pk in kept],
                )
            runs: list[tuple[str, str]] = []
            skipped: list[tuple[str, str]] = []
            for trigger, action in starters.values():
                fired = self._triggers._start_actions(
                    conn, replace(trigger, actions=(action,)), nets[trigger.pk], new_id
                )
                runs += fired.runs
                skipped += fired.skipped
        return new_id, wanted, FireResult(acc, workflow, tuple(runs), tuple(skipped))

    def get_run(self, account: str, name: str, run_id: str) -> WorkflowRun:
        acc = checks.account(account)
        with self._db.read() as conn:
            return _run(conn, _run_row(conn, acc, model.workflow_name(name), run_id), True)

    def get_runs(
        self, account: str, name: str, page: PageRequest, job_runs: bool = False
    ) -> Page[WorkflowRun]:
        """Newest first."""
        acc = checks.account(account)
        workflow = model.workflow_name(name)
        query = self._tokens.page_query(page, int, "GetWorkflowRuns", acc, workflow)
        with self._db.read() as conn:
            row = _row(conn, acc, workflow)
            stmt = select(WORKFLOW_RUNS).where(WORKFLOW_RUNS.c.workflow_pk == row.id)
            if query.after is not None:
                stmt = stmt.where(WORKFLOW_RUNS.c.id < int(query.after))
            rows = conn.execute(
                stmt.order_by(WORKFLOW_RUNS.c.id.desc()).limit(query.limit + 1)
            ).all()
            kept, token = self._tokens.page_of(query, rows, lambda r: r.id)
            return Page(items=tuple(_run(conn, r, job_runs) for r in kept), next_token=token)

    def stop_run(self, account: str, name: str, run_id: str) -> list[tuple[str, str, str]]:
        """Moves a RUNNING run to STOPPING; its active job runs ("job", job name, run id) and
        crawls ("crawler", crawler name, crawl id), for the caller to stop. IllegalWorkflowState
        if it is not RUNNING."""
        acc = checks.account(account)
        with self._db.write() as conn:
            row = _run_row(conn, acc, model.workflow_name(name), run_id)
            moved = conn.execute(
                update(WORKFLOW_RUNS)
                .where(
                    WORKFLOW_RUNS.c.id == row.id,
                    WORKFLOW_RUNS.c.status == str(RunStatus.RUNNING),
                )
                .values(status=str(RunStatus.STOPPING))
            ).rowcount
            if not moved:
                raise IllegalWorkflowState(f"Workflow run {run_id} is {row.status}, not RUNNING")
            active = [
                ("job", r.job_name, r.run_id)
                for r in conn.execute(
                    select(JOB_RUNS.c.job_name, JOB_RUNS.c.run_id).where(
                        JOB_RUNS.c.workflow_run_id == row.run_id,
                        JOB_RUNS.c.state.not_in(state_values(TERMINAL_STATES)),
                    )
                )
            ]
            active += [
                ("crawler", r.crawler_name, r.crawl_id)
                for r in conn.execute(
                    select(CRAWLS.c.crawler_name, CRAWLS.c.crawl_id).where(
                        CRAWLS.c.workflow_run_id == row.run_id,
                        CRAWLS.c.state.not_in(_FINAL_CRAWL_STATES),
                    )
                )
            ]
        return active

    def get_run_properties(self, account: str, name: str, run_id: str) -> dict[str, str]:
        acc = checks.account(account)
        with self._db.read() as conn:
            return dict(_run_row(conn, acc, model.workflow_name(name), run_id).properties)

    def put_run_properties(
        self, account: str, name: str, run_id: str, properties: Mapping[str, str]
    ) -> None:
        """Merges properties into a RUNNING run's; IllegalWorkflowState once it has ended."""
        acc = checks.account(account)
        with self._db.write() as conn:
            row = _run_row(conn, acc, model.workflow_name(name), run_id, lock=True)
            if row.status != str(RunStatus.RUNNING):
                raise IllegalWorkflowState(
                    f"Workflow run {run_id} is {row.status}: its properties are final"
                )
            merged = {**row.properties, **properties}
            model.run_properties(merged)
            conn.execute(
                update(WORKFLOW_RUNS).where(WORKFLOW_RUNS.c.id == row.id).values(properties=merged)
            )

    # The scheduler's side

    def advance(self, network: Network, fence: Fence | None) -> list[FireResult]:
        """One pass over every active workflow run: fires each of its CONDITIONAL triggers
        that its own finished job runs satisfy (once per run), then ends the run (COMPLETED, or
        STOPPED once stopping) when none of its job runs is active and nothing fired."""
        with self._db.read() as conn:
            active = [
                _ActiveRun(r.id, r.account, r.workflow_name, r.run_id)
                for r in conn.execute(
                    select(
                        WORKFLOW_RUNS.c.id,
                        WORKFLOW_RUNS.c.account,
                        WORKFLOW_RUNS.c.workflow_name,
                        WORKFLOW_RUNS.c.run_id,
                    )
                    .where(WORKFLOW_RUNS.c.status.in_(_ACTIVE))
                    .order_by(WORKFLOW_RUNS.c.id)
                )
            ]
        fired: list[FireResult] = []
        for run in active:
            try:
                fired += self._advance_one(run, network, fence)
            except LeaseLost:
                raise
            except Exception:
                # One run's trouble must not stall the others.
                log.exception("advancing workflow run %s failed", run.run_id)
        return fired

    def _advance_one(
        self, run: _ActiveRun, network: Network, fence: Fence | None
    ) -> list[FireResult]:
        """Looked at without a lock first: a run with nothing to fire and something still
        active (the usual case) costs no write transaction."""
        with self._db.read() as conn:
            row = conn.execute(select(WORKFLOW_RUNS).where(WORKFLOW_RUNS.c.id == run.pk)).first()
            if row is None or row.status not in _ACTIVE:
                return []
            triggers = _workflow_triggers(conn, run.account, run.workflow_name)
            ready, busy = _ready_and_busy(conn, row, triggers)
            if not ready and busy:
                return []
        read = {t.pk: t for t in ready}
        nets = {t.pk: _networks(t, network) for t in ready}
        now = self._now()
        fired: list[FireResult] = []
        with self._db.write() as conn:
            if fence is not None:
                check_fence(conn, fence)
            row = conn.execute(
                select(WORKFLOW_RUNS).where(WORKFLOW_RUNS.c.id == run.pk).with_for_update()
            ).first()
            if row is None or row.status not in _ACTIVE:
                return []
            current = _workflow_triggers(conn, row.account, run.workflow_name)
            ready, busy = _ready_and_busy(conn, row, current)
            for trigger in ready:
                if read.get(trigger.pk) != trigger:
                    continue  # made or changed meanwhile: the next pass fires it
                conn.execute(
                    insert(TRIGGER_WORKFLOW_FIRES).values(
                        trigger_pk=trigger.pk, workflow_run_pk=row.id
                    )
                )
                fired.append(
                    self._triggers._start_actions(
                        conn, trigger, nets[trigger.pk], workflow_run_id=row.run_id
                    )
                )
            if ready or busy:
                return fired
            final = (
                RunStatus.COMPLETED if row.status == str(RunStatus.RUNNING) else RunStatus.STOPPED
            )
            ended = conn.execute(
                update(WORKFLOW_RUNS)
                .where(WORKFLOW_RUNS.c.id == row.id, WORKFLOW_RUNS.c.status == row.status)
                .values(status=str(final), completed_on=now)
            ).rowcount
            if ended:
                conn.execute(
                    update(WORKFLOWS)
                    .where(WORKFLOWS.c.id == row.workflow_pk, WORKFLOWS.c.active_runs > 0)
                    .values(active_runs=WORKFLOWS.c.active_runs - 1)
                )
                log.info("workflow run %s of %s ended %s", row.run_id, run.workflow_name, final)
        return []


def _ready_and_busy(
    conn: Connection, row: Row, triggers: Sequence[Trigger]
) -> tuple[list[Trigger], int]:
    """Of triggers (the workflow's), the CONDITIONAL ones that have not fired in run row and
    that its finished job runs and crawls satisfy (none once it is stopping); and how many of
    its job runs and crawls are active."""
    ready: list[Trigger] = []
    if row.status == str(RunStatus.RUNNING):
        done = set(
            conn.execute(
                select(TRIGGER_WORKFLOW_FIRES.c.trigger_pk).where(
                    TRIGGER_WORKFLOW_FIRES.c.workflow_run_pk == row.id
                )
            ).scalars()
        )
        inherited = _inherited(conn, row, triggers)
        for trigger in triggers:
            predicate = trigger.predicate
            if trigger.type is not TriggerType.CONDITIONAL or predicate is None:
                continue
            if trigger.pk in done:
                continue
            if _satisfied(predicate, _finished_in_run(conn, row, inherited, predicate)) is not None:
                ready.append(trigger)
    busy = conn.execute(
        select(func.count())
        .select_from(JOB_RUNS)
        .where(
            JOB_RUNS.c.workflow_run_id == row.run_id,
            JOB_RUNS.c.state.not_in(state_values(TERMINAL_STATES)),
        )
    ).scalar_one()
    busy += conn.execute(
        select(func.count())
        .select_from(CRAWLS)
        .where(
            CRAWLS.c.workflow_run_id == row.run_id,
            CRAWLS.c.state.not_in(_FINAL_CRAWL_STATES),
        )
    ).scalar_one()
    return ready, busy


def _starters(triggers: Sequence[Trigger], node_ids: Sequence[str]) -> dict[str, Any]:
    """For each job node to restart, the trigger of the workflow that starts it and its
    action; InvalidInput for a node that is not a job the workflow starts."""
    found: dict[str, tuple[Trigger, Any]] = {}
    for node_id in node_ids:
        kind, _, job = node_id.partition("/")
        match = [(t, a) for t in triggers for a in t.actions if kind == "job" and a.job_name == job]
        if not match:
            raise InvalidInput(
                f"node {node_id[:300]!r} is not a job the workflow starts: give job/<name> ids"
            )
        found[node_id] = match[0]
    return found


def _rerun(triggers: Sequence[Trigger], node_ids: Sequence[str]) -> set[GraphNode]:
    """The restarted job nodes and every node following them."""
    starts = [GraphNode("JOB", node_id.partition("/")[2]) for node_id in node_ids]
    return downstream([of_trigger(t) for t in triggers], starts)


def _inherited(
    conn: Connection, row: Row, triggers: Sequence[Trigger]
) -> tuple[list[str], set[tuple[str, str]]]:
    """A resumed run's earlier runs (newest first, along previous_run_id) and the jobs whose
    runs there do not count (those run again)."""
    if not row.previous_run_id:
        return [], set()
    earlier: list[str] = []
    rerun = {(n.type, n.name) for n in _rerun(triggers, row.resumed_nodes)}
    current = row
    for _ in range(_MAX_RESUMES):
        if not current.previous_run_id:
            break
        current = conn.execute(
            select(WORKFLOW_RUNS).where(WORKFLOW_RUNS.c.run_id == current.previous_run_id)
        ).first()
        if current is None:
            break
        earlier.append(current.run_id)
    return earlier, rerun


def _finished_in_run(
    conn: Connection,
    row: Row,
    inherited: tuple[list[str], set[tuple[str, str]]],
    predicate: Any,
) -> list[_Finished]:
    """The workflow run's finished job runs of the predicate's jobs (final: no retry follows),
    oldest first; for a resumed run, also its earlier runs' of the jobs not run again."""
    earlier, rerun = inherited
    crawlers = sorted({c.crawler_name for c in predicate.conditions if c.crawler_name})
    found: list[_Finished] = []
    if crawlers:
        kept_crawlers = [name for name in crawlers if ("CRAWLER", name) not in rerun]
        ours = CRAWLS.c.workflow_run_id == row.run_id
        if earlier and kept_crawlers:
            ours = ours | (
                CRAWLS.c.workflow_run_id.in_(earlier) & CRAWLS.c.crawler_name.in_(kept_crawlers)
            )
        found += [
            _crawl(crawl)
            for crawl in conn.execute(
                select(
                    CRAWLS.c.id,
                    CRAWLS.c.crawl_id,
                    CRAWLS.c.crawler_name,
                    CRAWLS.c.state,
                    CRAWLS.c.ended_on,
                ).where(
                    ours,
                    CRAWLS.c.crawler_name.in_(crawlers),
                    CRAWLS.c.state.in_(_FINAL_CRAWL_STATES),
                )
            )
        ]
    jobs = sorted({c.job_name for c in predicate.conditions if not c.crawler_name})
    if not jobs:
        return _ordered(found)
    kept = [job for job in jobs if ("JOB", job) not in rerun]
    mine = JOB_RUNS.c.workflow_run_id == row.run_id
    if earlier and kept:
        mine = mine | (JOB_RUNS.c.workflow_run_id.in_(earlier) & JOB_RUNS.c.job_name.in_(kept))
    following = _FOLLOWING
    return _ordered(
        found
        + [
            _Finished("job", r.id, r.job_name, r.state, r.completed_on)
            for r in conn.execute(
                select(
                    JOB_RUNS.c.id, JOB_RUNS.c.job_name, JOB_RUNS.c.state, JOB_RUNS.c.completed_on
                )
                .where(
                    mine,
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
            )
        ]
    )


def _workflow_triggers(conn: Connection, account: str, workflow: str) -> list[Trigger]:
    rows = conn.execute(
        select(TRIGGERS)
        .where(TRIGGERS.c.account == account, TRIGGERS.c.workflow_name == workflow)
        .order_by(TRIGGERS.c.name)
    ).all()
    return [_trigger(row) for row in rows]


def _start_trigger(conn: Connection, account: str, workflow: str) -> Trigger:
    for trigger in _workflow_triggers(conn, account, workflow):
        if trigger.type is not TriggerType.CONDITIONAL:
            return trigger
    raise InvalidInput(
        f"Workflow {workflow} has no start trigger: create an ON_DEMAND trigger with "
        f"workflow_name {workflow}"
    )


def _row(conn: Connection, account: str, name: str, *, lock: bool = False) -> Row:
    stmt = select(WORKFLOWS).where(WORKFLOWS.c.account == account, WORKFLOWS.c.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise EntityNotFound(f"Workflow {name} not found")
    return row


def _run_row(
    conn: Connection, account: str, workflow: str, run_id: str, *, lock: bool = False
) -> Row:
    model.workflow_run_id(run_id)
    stmt = select(WORKFLOW_RUNS).where(
        WORKFLOW_RUNS.c.account == account,
        WORKFLOW_RUNS.c.workflow_name == workflow,
        WORKFLOW_RUNS.c.run_id == run_id,
    )
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise EntityNotFound(f"Workflow run {run_id} of {workflow} not found")
    return row


def _run(conn: Connection, row: Row, job_runs: bool = False) -> WorkflowRun:
    runs = [
        run_from_row(r)
        for r in conn.execute(
            select(JOB_RUNS).where(JOB_RUNS.c.workflow_run_id == row.run_id).order_by(JOB_RUNS.c.id)
        )
    ]
    crawls = [
        WorkflowCrawl(
            crawler_name=c.crawler_name,
            state=str(CRAWL_STATES.get(c.state, c.state)),
            started_on=c.started_on,
            completed_on=c.ended_on,
            error_message=c.error_message,
        )
        for c in conn.execute(
            select(CRAWLS).where(CRAWLS.c.workflow_run_id == row.run_id).order_by(CRAWLS.c.id)
        )
    ]
    return WorkflowRun(
        workflow_name=row.workflow_name,
        run_id=row.run_id,
        previous_run_id=row.previous_run_id,
        properties=dict(row.properties),
        status=RunStatus(row.status),
        error_message=row.error_message,
        started_on=row.started_on,
        completed_on=row.completed_on,
        statistics=_statistics(runs, crawls),
        job_runs=tuple(runs) if job_runs else (),
        crawls=tuple(crawls) if job_runs else (),
        graph=_from_snapshot(row.graph) if job_runs and row.graph is not None else None,
    )


# The trigger columns whose values are timestamps: ISO strings in a run's graph snapshot.
_TIMES = ("next_fire_at", "activated_on", "first_event_at", "created_on", "last_modified_on")


def _snapshot(conn: Connection, account: str, workflow: str) -> list[dict[str, Any]]:
    """The workflow's triggers' rows as JSON: a run's graph as of its start."""
    rows = conn.execute(
        select(TRIGGERS)
        .where(TRIGGERS.c.account == account, TRIGGERS.c.workflow_name == workflow)
        .order_by(TRIGGERS.c.name)
    ).all()
    snapshot = []
    for row in rows:
        values = dict(row._mapping)
        for key in _TIMES:
            if values.get(key) is not None:
                values[key] = values[key].astimezone(UTC).isoformat()
        snapshot.append(values)
    return snapshot


def _from_snapshot(snapshot: Sequence[Mapping[str, Any]]) -> tuple[Trigger, ...]:
    triggers = []
    for values in snapshot:
        read = dict(values)
        for key in _TIMES:
            if read.get(key) is not None:
                read[key] = datetime.fromisoformat(read[key])
        triggers.append(_trigger(SimpleNamespace(**read)))  # type: ignore[arg-type]
    return tuple(triggers)


def _statistics(runs: Sequence[JobRun], crawls: Sequence[WorkflowCrawl]) -> Statistics:
    """Job runs and crawls counted together, as Glue counts a run's actions."""
    counts = Counter(run.state for run in runs)
    crawled = Counter(crawl.state for crawl in crawls)
    return Statistics(
        total=len(runs) + len(crawls),
        succeeded=counts[RunState.SUCCEEDED] + crawled["SUCCEEDED"],
        failed=counts[RunState.FAILED] + crawled["FAILED"],
        stopped=counts[RunState.STOPPED] + crawled["CANCELLED"],
        timeout=counts[RunState.TIMEOUT],
        errored=counts[RunState.ERROR],
        waiting=counts[RunState.WAITING],
        running=sum(
            n
            for state, n in counts.items()
            if not state.is_terminal() and state is not RunState.WAITING
        )
        + crawled["RUNNING"],
    )


def _workflow(row: Row, last_run: WorkflowRun | None) -> Workflow:
    return Workflow(
        name=row.name,
        account=row.account,
        description=row.description,
        default_run_properties=dict(row.default_run_properties),
        max_concurrent_runs=row.max_concurrent_runs,
        tags=dict(row.tags),
        created_on=row.created_on,
        last_modified_on=row.last_modified_on,
        last_run=last_run,
    )
