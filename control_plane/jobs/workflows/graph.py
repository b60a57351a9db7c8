"""A workflow's graph: its triggers (those naming it) and the jobs and crawlers they watch and
start.

Edges go from each condition's job (crawler) to its trigger and from a trigger to each action's
job (crawler); node ids are trigger/<name>, job/<name> and crawler/<name>. The checks a
trigger joining a workflow must pass run in the trigger's write transaction with the workflow's
row locked, so two concurrent CreateTrigger calls cannot together make a second start trigger or
a cycle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs.triggers.model import Trigger, TriggerInput, TriggerType
from sluice.control_plane.jobs.triggers.rows import TRIGGERS
from sluice.control_plane.jobs.workflows.rows import WORKFLOWS


@dataclass(frozen=True)
class GraphNode:
    type: str  # TRIGGER, JOB or CRAWLER
    name: str

    @property
    def unique_id(self) -> str:
        return f"{self.type.lower()}/{self.name}"


@dataclass(frozen=True)
class GraphTrigger:
    """What the graph needs of a trigger: its type, the jobs and crawlers it watches and
    those it starts."""

    name: str
    type: str
    watched: tuple[GraphNode, ...]
    started: tuple[GraphNode, ...]


def _node(job_name: str, crawler_name: str) -> GraphNode:
    return GraphNode("CRAWLER", crawler_name) if crawler_name else GraphNode("JOB", job_name)


def _of(name: str, kind: str, conditions: Iterable[Any], actions: Iterable[Any]) -> GraphTrigger:
    return GraphTrigger(
        name,
        kind,
        tuple(_node(c.job_name, c.crawler_name) for c in conditions),
        tuple(_node(a.job_name, a.crawler_name) for a in actions),
    )


def of_input(value: TriggerInput) -> GraphTrigger:
    conditions = value.predicate.conditions if value.predicate is not None else ()
    return _of(value.name, str(value.type), conditions, value.actions)


def edges(triggers: Iterable[GraphTrigger]) -> list[tuple[GraphNode, GraphNode]]:
    found: list[tuple[GraphNode, GraphNode]] = []
    for trigger in triggers:
        node = GraphNode("TRIGGER", trigger.name)
        found += [(watched, node) for watched in dict.fromkeys(trigger.watched)]
        found += [(node, started) for started in dict.fromkeys(trigger.started)]
    return found


def nodes(triggers: Sequence[GraphTrigger]) -> list[GraphNode]:
    """Triggers and jobs in topological order (layer by layer from the start trigger)."""
    pairs = edges(triggers)
    every: dict[GraphNode, None] = {}
    for trigger in triggers:
        every[GraphNode("TRIGGER", trigger.name)] = None
    for source, destination in pairs:
        every[source] = None
        every[destination] = None
    incoming: dict[GraphNode, int] = {node: 0 for node in every}
    following: dict[GraphNode, list[GraphNode]] = defaultdict(list)
    for source, destination in pairs:
        incoming[destination] += 1
        following[source].append(destination)
    layer = [node for node in every if incoming[node] == 0]
    ordered: list[GraphNode] = []
    while layer:
        ordered += layer
        after: list[GraphNode] = []
        for node in layer:
            for nxt in following[node]:
                incoming[nxt] -= 1
                if incoming[nxt] == 0:
                    after.append(nxt)
        layer = after
    # A cycle (never stored: checked on every change) would leave nodes out; keep them.
    ordered += [node for node in every if node not in set(ordered)]
    return ordered


def layers(triggers: Sequence[GraphTrigger]) -> dict[GraphNode, int]:
    """Each node's layer: the longest path to it from a node with no incoming edge."""
    depth: dict[GraphNode, int] = {}
    pairs = edges(triggers)
    for node in nodes(triggers):
        depth[node] = max(
            (depth.get(src, 0) + 1 for src, dst in pairs if dst == node and src in depth),
            default=0,
        )
    return depth


def downstream(triggers: Iterable[GraphTrigger], starts: Iterable[GraphNode]) -> set[GraphNode]:
    """starts and every node reachable from them."""
    following: dict[GraphNode, list[GraphNode]] = defaultdict(list)
    for source, destination in edges(triggers):
        following[source].append(destination)
    seen: set[GraphNode] = set()
    todo = list(starts)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo += following[node]
    return seen


def of_trigger(trigger: Trigger) -> GraphTrigger:
    conditions = trigger.predicate.conditions if trigger.predicate is not None else ()
    return _of(trigger.name, str(trigger.type), conditions, trigger.actions)


def find_cycle(triggers: Iterable[GraphTrigger]) -> list[str]:
    """A cycle's path of job and trigger names (first node repeated at the end), or []."""
    following: dict[GraphNode, list[GraphNode]] = defaultdict(list)
    for source, destination in edges(triggers):
        following[source].append(destination)
    state: dict[GraphNode, int] = {}  # 1: on the path, 2: done
    path: list[GraphNode] = []

    def visit(node: GraphNode) -> list[GraphNode]:
        state[node] = 1
        path.append(node)
        for nxt in following[node]:
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in list(following):
        if node not in state and (cycle := visit(node)):
            return [n.unique_id for n in cycle]
    return []


def workflow_triggers(conn: Connection, account: str, workflow: str) -> list[GraphTrigger]:
    rows = conn.execute(
        select(TRIGGERS.c.name, TRIGGERS.c.type, TRIGGERS.c.actions, TRIGGERS.c.predicate)
        .where(TRIGGERS.c.account == account, TRIGGERS.c.workflow_name == workflow)
        .order_by(TRIGGERS.c.name)
    ).all()
    return [
        GraphTrigger(
            row.name,
            row.type,
            tuple(
                _node(c.get("job_name", ""), c.get("crawler_name", ""))
                for c in (row.predicate or {}).get("conditions", [])
            ),
            tuple(_node(a.get("job_name", ""), a.get("crawler_name", "")) for a in row.actions),
        )
        for row in rows
    ]


def check_joining(conn: Connection, account: str, value: TriggerInput) -> None:
    """That value may be (or stay) one of its workflow's triggers: the workflow exists (its row
    is locked until conn's transaction ends), it has one start trigger at most, and the graph
    with value has no cycle. InvalidInput naming what is wrong otherwise."""
    found = conn.execute(
        select(WORKFLOWS.c.id)
        .where(WORKFLOWS.c.account == account, WORKFLOWS.c.name == value.workflow_name)
        .with_for_update()
    ).first()
    if found is None:
        raise InvalidInput(
            f"trigger {value.name} names workflow {value.workflow_name}, which does not exist"
        )
    others = [
        t for t in workflow_triggers(conn, account, value.workflow_name) if t.name != value.name
    ]
    triggers = [*others, of_input(value)]
    starts = sorted(t.name for t in triggers if t.type != str(TriggerType.CONDITIONAL))
    if len(starts) > 1:
        raise InvalidInput(
            f"workflow {value.workflow_name} would have more than one start trigger: "
            + ", ".join(starts)
        )
    cycle = find_cycle(triggers)
    if cycle:
        raise InvalidInput(
            f"trigger {value.name} would make a cycle in workflow {value.workflow_name}: "
            + " -> ".join(cycle)
        )
