"""AgentFleet: routing and binding of sandboxes, with fake agents (no Ray, no processes)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sluice.agents.api import PoolStatus, RunLaunch, RunLogs
from sluice.agents.config import EnvironmentSpec
from sluice.agents.errors import AgentUnavailable
from sluice.agents.isolation import IsolationTuple
from sluice.agents.runs import LogChunk, LogStream, RunProgress, RunRequest, RunState
from sluice.common.errors import AlreadyExists
from sluice.control_plane.errors import StartupError
from sluice.control_plane.jobs.executor import PoolSnapshot, SandboxSnapshot
from sluice.control_plane.jobs.fleet import (
    BINDING_FILE,
    AgentFleet,
    Binding,
    FleetRuns,
    SandboxPlan,
    read_binding,
    sandbox_root,
    write_binding,
)

A, B, C = "111111111111", "222222222222", "333333333333"


class FakeRuns:
    """An agent's runs in memory; answers NoCapacity (AgentUnavailable) until ready."""

    def __init__(self, sandbox_id: str) -> None:
        self.sandbox_id = sandbox_id
        self.ready = True
        self.runs: dict[str, IsolationTuple] = {}
        self.forgotten: list[str] = []

    def launch(
        self, request: RunRequest, isolation: IsolationTuple, spec: EnvironmentSpec | None = None
    ) -> RunLaunch:
        if not self.ready:
            raise AgentUnavailable("the job agent is starting")
        if request.run_id in self.runs:
            raise AlreadyExists(request.run_id)
        self.runs[request.run_id] = isolation
        return RunLaunch(RunProgress(request.run_id, RunState.RUNNING), self.sandbox_id, True)

    def progress(self, run_id: str) -> RunProgress:
        state = RunState.RUNNING if run_id in self.runs else RunState.LOST
        return RunProgress(run_id, state)

    def stop(self, run_id: str) -> RunProgress:
        return RunProgress(run_id, RunState.STOPPED if run_id in self.runs else RunState.LOST)

    def forget(self, run_id: str) -> None:
        self.forgotten.append(run_id)

    def read_logs(self, run_id: str, offsets: Mapping[LogStream, int]) -> RunLogs:
        text = f"{self.sandbox_id}:{run_id}\n" if run_id in self.runs else ""
        chunks = {
            stream: LogChunk(text, offset, offset + len(text)) for stream, offset in offsets.items()
        }
        return RunLogs(self.progress(run_id), chunks)

    def pool_status(self) -> PoolStatus:
        return PoolStatus(1, 1, 0, 0, len(self.runs), True, f"127.0.0.1:{self.sandbox_id}")


class FakeAgent:
    def __init__(self, plan: SandboxPlan) -> None:
        self.plan = plan
        self.client = FakeRuns(plan.sandbox_id)
        self.started = 0
        self.stopped: list[bool] = []

    @property
    def pid(self) -> int | None:
        return 1000 if self.started and not self.stopped else None

    def start(self) -> None:
        self.started += 1

    def stop(self, keep_environments: bool) -> int | None:
        self.stopped.append(keep_environments)
        return 0


class Agents:
    """Every fake agent a fleet made, by sandbox id."""

    def __init__(self) -> None:
        self.made: dict[str, FakeAgent] = {}
        self.cold_ready = True

    def __call__(self, plan: SandboxPlan) -> FakeAgent:
        agent = FakeAgent(plan)
        agent.client.ready = self.cold_ready
        self.made[plan.sandbox_id] = agent
        return agent


def request(run_id: str) -> RunRequest:
    return RunRequest(run_id=run_id, script_text="print(1)")


def tuple_of(account: str) -> IsolationTuple:
    return IsolationTuple(account=account, role="r", subnet="", security_group="")


def make_fleet(tmp_path: Path, spares: int, agents: Agents | None = None) -> AgentFleet:
    return AgentFleet(tmp_path / "agents", tmp_path / "sb", spares, agents or Agents())


def sandbox_of(fleet: AgentFleet, account: str) -> str:
    return next(s.sandbox_id for s in fleet.sandbox_statuses() if s.account == account)


def test_a_new_account_binds_the_spare_and_a_new_spare_replaces_it(tmp_path: Path) -> None:
    agents = Agents()
    fleet = make_fleet(tmp_path, 1, agents)
    fleet.start()
    (spare,) = agents.made

    launched = fleet.launch(request("jr_a1"), tuple_of(A))

    assert launched.environment_id == spare
    assert sandbox_of(fleet, A) == spare
    assert read_binding(tmp_path / "agents" / spare) == Binding(A, f"sluice-{spare}")
    assert len(agents.made) == 2
    new_spare = next(sid for sid in agents.made if sid != spare)
    assert agents.made[new_spare].started == 1
    assert fleet.bound_account(new_spare) == ""


def test_the_fleet_says_when_a_sandbox_is_bound_and_never_of_a_spare(tmp_path: Path) -> None:
    agents = Agents()
    bound: list[str] = []
    fleet = AgentFleet(
        tmp_path / "agents",
        tmp_path / "sb",
        1,
        agents,
        on_bind=lambda plan: bound.append(plan.sandbox_id),
    )
    fleet.start()
    (spare,) = agents.made
    assert bound == []

    fleet.launch(request("jr_a1"), tuple_of(A))
    fleet.launch(request("jr_a2"), tuple_of(A))

    assert bound == [spare]
    fleet.launch(request("jr_b1"), tuple_of(B))
    assert bound == [spare, sandbox_of(fleet, B)]
    # Each account's sandbox once; the spares started meanwhile are not bound.
    assert len(set(bound)) == 2 and len(agents.made) == 3


def test_a_second_account_never_gets_the_first_accounts_sandbox(tmp_path: Path) -> None:
    agents = Agents()
    fleet = make_fleet(tmp_path, 1, agents)
    fleet.start()

    fleet.launch(request("jr_a1"), tuple_of(A))
    fleet.launch(request("jr_b1"), tuple_of(B))
    fleet.launch(request("jr_a2"), tuple_of(A))

    sandbox_a, sandbox_b = sandbox_of(fleet, A), sandbox_of(fleet, B)
    assert sandbox_a != sandbox_b
    assert set(agents.made[sandbox_a].client.runs) == {"jr_a1", "jr_a2"}
    assert set(agents.made[sandbox_b].client.runs) == {"jr_b1"}
    assert {i.account for i in agents.made[sandbox_a].client.runs.values()} == {A}


def test_concurrent_first_runs_of_many_accounts_each_bind_a_sandbox_of_their_own(
    tmp_path: Path,
) -> None:
    agents = Agents()
    fleet = make_fleet(tmp_path, 2, agents)
    fleet.start()
    accounts = [f"{n:012d}" for n in range(1, 9)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        calls = [(f"jr_{n}_{a}", a) for n in (1, 2) for a in accounts]
        list(pool.map(lambda call: fleet.launch(request(call[0]), tuple_of(call[1])), calls))

    bound = {s.sandbox_id: s.account for s in fleet.sandbox_statuses() if s.account}
    assert sorted(bound.values()) == sorted(accounts)
    for sandbox_id, account in bound.items():
        assert read_binding(tmp_path / "agents" / sandbox_id) == Binding(
            account, f"sluice-{sandbox_id}"
        )
        assert set(agents.made[sandbox_id].client.runs) == {f"jr_1_{account}", f"jr_2_{account}"}
    spares = [s for s in fleet.sandbox_statuses() if not s.account]
    assert len(spares) == 2


def test_a_binding_is_created_once_and_never_rewritten(tmp_path: Path) -> None:
    write_binding(tmp_path, Binding(A, "sluice-sb-00000000"))

    with pytest.raises(FileExistsError):
        write_binding(tmp_path, Binding(B, "sluice-sb-00000000"))

    assert read_binding(tmp_path) == Binding(A, "sluice-sb-00000000")
    assert stat.S_IMODE(os.stat(tmp_path / BINDING_FILE).st_mode) == 0o600


def test_a_spare_bound_meanwhile_on_disk_goes_to_its_recorded_account(tmp_path: Path) -> None:
    agents = Agents()
    fleet = make_fleet(tmp_path, 1, agents)
    fleet.start()
    (spare,) = agents.made
    # Whatever wrote it, a binding on disk wins over the one in the making.
    write_binding(tmp_path / "agents" / spare, Binding(B, f"sluice-{spare}"))

    fleet.launch(request("jr_a1"), tuple_of(A))

    assert sandbox_of(fleet, B) == spare
    assert sandbox_of(fleet, A) != spare
    assert agents.made[spare].client.runs == {}


def test_without_a_spare_the_sandbox_starts_cold_and_answers_no_capacity_until_ready(
    tmp_path: Path,
) -> None:
    agents = Agents()
    agents.cold_ready = False
    fleet = make_fleet(tmp_path, 0, agents)
    fleet.start()
    assert agents.made == {}

    with pytest.raises(AgentUnavailable):
        fleet.launch(request("jr_a1"), tuple_of(A))

    (sandbox,) = agents.made
    assert agents.made[sandbox].started == 1
    assert not (tmp_path / "agents" / sandbox / "launched" / "jr_a1").exists()
    agents.made[sandbox].client.ready = True
    assert fleet.launch(request("jr_a1"), tuple_of(A)).environment_id == sandbox
    assert len(agents.made) == 1
    assert (tmp_path / "agents" / sandbox / "launched" / "jr_a1").exists()


def test_calls_route_by_run_id_and_unknown_runs_are_lost(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path, 1)
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))
    fleet.launch(request("jr_b1"), tuple_of(B))
    runs = FleetRuns(fleet)

    logs = runs.read_logs("jr_b1", {LogStream.STDOUT: 0})
    assert logs.chunks[LogStream.STDOUT].text == f"{sandbox_of(fleet, B)}:jr_b1\n"
    assert logs.progress.state is RunState.RUNNING
    assert runs.stop("jr_a1").state is RunState.STOPPED
    assert runs.progress("jr_nobody").state is RunState.LOST
    nobody = runs.read_logs("jr_nobody", {LogStream.STDOUT: 7})
    assert nobody.chunks == {LogStream.STDOUT: LogChunk("", 7, 7)}
    assert nobody.progress.state is RunState.LOST
    runs.forget("jr_a1")
    assert not (tmp_path / "agents" / sandbox_of(fleet, A) / "launched" / "jr_a1").exists()


def test_a_restarted_fleet_reattaches_bound_sandboxes_with_their_runs(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path, 1)
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))
    fleet.launch(request("jr_b1"), tuple_of(B))
    before = {s.sandbox_id: s.account for s in fleet.sandbox_statuses()}
    fleet.stop(keep_environments=True)

    agents = Agents()
    again = make_fleet(tmp_path, 1, agents)
    again.start()

    after = {s.sandbox_id: s.account for s in again.sandbox_statuses()}
    assert after == before
    assert all(agent.started == 1 for agent in agents.made.values())
    # The new agents know the runs again (they re-attach them); the fleet routes to them.
    for run_id, account in (("jr_a1", A), ("jr_b1", B)):
        agents.made[sandbox_of(again, account)].client.runs[run_id] = tuple_of(account)
        assert again.progress(run_id).state is RunState.RUNNING
    text = again.read_logs("jr_a1", {LogStream.STDOUT: 0}).chunks[LogStream.STDOUT].text
    assert text.startswith(sandbox_of(again, A))
    # A's next run goes to A's sandbox, not to the leftover spare.
    again.launch(request("jr_a2"), tuple_of(A))
    assert "jr_a2" in agents.made[sandbox_of(again, A)].client.runs


def test_a_run_not_on_record_is_lost_whatever_an_agent_claims(tmp_path: Path) -> None:
    # An agent runs as its sandbox's user, as untrusted as its job code: one that claims
    # another account's run (or a run of an earlier version's single agent) is not asked.
    agents = Agents()
    fleet = make_fleet(tmp_path, 0, agents)
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))
    agents.made[sandbox_of(fleet, A)].client.runs["jr_old"] = tuple_of(B)

    assert fleet.progress("jr_old").state is RunState.LOST
    assert fleet.stop_run("jr_old").state is RunState.LOST
    old = fleet.read_logs("jr_old", {LogStream.STDOUT: 0})
    assert old.chunks[LogStream.STDOUT].text == ""
    assert old.progress.state is RunState.LOST


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def reclaiming_fleet(
    tmp_path: Path, agents: Agents, clock: Clock, removed: list[str], spares: int = 1
) -> AgentFleet:
    return AgentFleet(
        tmp_path / "agents",
        tmp_path / "sb",
        spares,
        agents,
        idle_s=1800,
        remove_sandbox=lambda plan: removed.append(plan.sandbox_id),
        clock=clock,
    )


def test_an_idle_sandbox_is_reclaimed_and_the_account_binds_a_fresh_one(tmp_path: Path) -> None:
    agents, clock, removed = Agents(), Clock(), []
    fleet = reclaiming_fleet(tmp_path, agents, clock, removed)
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))
    first = sandbox_of(fleet, A)
    clock.now += 3600
    assert fleet.reap_idle() == [], "a sandbox with a run on record is not idle"
    (status,) = [s for s in fleet.sandbox_statuses() if s.account == A]
    assert status.idle_since is None

    fleet.forget("jr_a1")
    clock.now += 1799
    (status,) = [s for s in fleet.sandbox_statuses() if s.account == A]
    assert status.idle_since == clock.now - 1799
    assert all(s.idle_since is None for s in fleet.sandbox_statuses() if not s.account)
    assert fleet.reap_idle() == []
    clock.now += 1

    assert fleet.reap_idle() == [first]
    assert removed == [first]
    assert agents.made[first].stopped == [False]
    record = tmp_path / "agents" / first
    assert (record / "retired").exists() and (record / BINDING_FILE).exists()
    assert A not in {s.account for s in fleet.sandbox_statuses()}

    fleet.launch(request("jr_a2"), tuple_of(A))
    second = sandbox_of(fleet, A)
    assert second != first
    assert "jr_a2" in agents.made[second].client.runs


def test_retired_and_half_made_sandboxes_are_removed_at_start(tmp_path: Path) -> None:
    agents, clock, removed = Agents(), Clock(), []
    fleet = reclaiming_fleet(tmp_path, agents, clock, removed, spares=0)
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))
    fleet.forget("jr_a1")
    clock.now += 1800
    (retired,) = fleet.reap_idle()
    fleet.stop(keep_environments=False)
    # Made, never started (the server died between its two mkdirs), and a work area whose
    # record was never written.
    (tmp_path / "agents" / "sb-0000000a").mkdir()
    (tmp_path / "sb").mkdir(exist_ok=True)
    (tmp_path / "sb" / "sb-0000000b.agent").mkdir()
    removed.clear()

    again = reclaiming_fleet(tmp_path, Agents(), clock, removed, spares=0)
    again.start()

    assert sorted(removed) == sorted([retired, "sb-0000000a", "sb-0000000b"])
    assert again.sandbox_statuses() == []
    assert (tmp_path / "agents" / "sb-0000000a" / "retired").exists()
    again.launch(request("jr_a2"), tuple_of(A))
    assert sandbox_of(again, A) not in (retired, "sb-0000000a", "sb-0000000b")


def test_a_launch_racing_the_reaper_never_lands_in_a_reclaimed_sandbox(tmp_path: Path) -> None:
    agents, clock, removed = Agents(), Clock(), []
    fleet = reclaiming_fleet(tmp_path, agents, clock, removed, spares=2)
    fleet.start()
    fleet.launch(request("jr_a0"), tuple_of(A))
    fleet.forget("jr_a0")
    clock.now += 1800

    def launch(index: int) -> str:
        fleet.launch(request(f"jr_a{index + 1}"), tuple_of(A))
        return f"jr_a{index + 1}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        reaped = pool.submit(fleet.reap_idle)
        launched = list(pool.map(launch, range(3)))
    for sandbox_id in reaped.result():
        assert not set(launched) & set(agents.made[sandbox_id].client.runs)
    assert set(launched) <= set(agents.made[sandbox_of(fleet, A)].client.runs)


def test_stop_keeps_environments_of_bound_sandboxes_only(tmp_path: Path) -> None:
    agents = Agents()
    fleet = make_fleet(tmp_path, 1, agents)
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))

    codes = fleet.stop(keep_environments=True)

    assert set(codes) == set(agents.made)
    bound = sandbox_of(fleet, A)
    assert agents.made[bound].stopped == [True]
    assert all(a.stopped == [False] for sid, a in agents.made.items() if sid != bound)
    with pytest.raises(AgentUnavailable):
        fleet.launch(request("jr_c1"), tuple_of(C))


def test_an_unreadable_binding_stops_the_start(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path, 0)
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))
    path = tmp_path / "agents" / sandbox_of(fleet, A) / BINDING_FILE
    path.chmod(0o600)
    path.write_text(json.dumps({"who": A}))

    with pytest.raises(StartupError, match="binding"):
        make_fleet(tmp_path, 0).start()


def test_the_sandbox_root_is_made_0711_and_someone_elses_is_refused(tmp_path: Path) -> None:
    root = sandbox_root(tmp_path / "sb")
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o711
    link = tmp_path / "link"
    link.symlink_to(root)
    with pytest.raises(StartupError):
        sandbox_root(link)


def test_the_pool_shows_a_caller_its_own_sandbox_only() -> None:
    def sandbox(sandbox_id: str, account: str, busy: int) -> SandboxSnapshot:
        return SandboxSnapshot(
            sandbox_id, account, f"sluice-{sandbox_id}", "up", 1, 1, 0, 0, busy, True, "h:1"
        )

    snapshot = PoolSnapshot(
        3,
        3,
        0,
        0,
        3,
        True,
        "",
        "enforced",
        (sandbox("sb-1", A, 1), sandbox("sb-2", B, 2), sandbox("sb-3", "", 0)),
    )

    seen = snapshot.seen_by(A)

    assert [s.sandbox_id for s in seen.sandboxes] == ["sb-1"]
    assert (seen.target_size, seen.busy, seen.ray_address) == (1, 1, "")
    assert seen.sandboxes[0].ray_address == ""
    assert snapshot.seen_by(C).sandboxes == ()
    assert snapshot.seen_by(C).busy == 0


def test_concurrent_launches_of_one_new_account_bind_one_sandbox(tmp_path: Path) -> None:
    agents = Agents()
    fleet = make_fleet(tmp_path, 1, agents)
    fleet.start()
    barrier = threading.Barrier(6)

    def first_run(n: int) -> str:
        barrier.wait()
        return fleet.launch(request(f"jr_{n}"), tuple_of(A)).environment_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        sandboxes = set(pool.map(first_run, range(6)))

    assert len(sandboxes) == 1
    assert [s.account for s in fleet.sandbox_statuses()].count(A) == 1


def test_a_sandboxs_settings_put_its_head_in_its_work_area_as_its_user(tmp_path: Path) -> None:
    from sluice.control_plane.config import ServerConfig
    from sluice.control_plane.jobs.runtime import sandbox_config, sandbox_configs

    short = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
    config = ServerConfig(data_dir=tmp_path / "data", sandbox_dir=short, pool_size=0)
    fleet = AgentFleet(tmp_path / "data" / "agents", short, 0, Agents())
    fleet.start()
    fleet.launch(request("jr_a1"), tuple_of(A))
    (plan,) = fleet.plans()

    settings = sandbox_config(config, plan)

    # The agent's own dir is beside its work area, out of the server's data dir.
    assert settings.data_dir == short / f"{plan.sandbox_id}.agent"
    assert plan.data_dir == tmp_path / "data" / "agents" / plan.sandbox_id
    assert settings.work_dir == short / plan.sandbox_id
    assert settings.ray_temp_dir == settings.work_dir / "r"
    assert settings.run_as == (plan.os_user if os.geteuid() == 0 else None)
    assert sandbox_configs(config) == {plan.sandbox_id: settings}
    short.rmdir()


def test_a_sandbox_dir_too_long_for_rays_sockets_stops_the_start(tmp_path: Path) -> None:
    from sluice.control_plane.config import ServerConfig
    from sluice.control_plane.jobs.runtime import check_sandbox_dir

    with pytest.raises(StartupError, match="too long"):
        check_sandbox_dir(ServerConfig(data_dir=tmp_path, sandbox_dir=tmp_path / ("x" * 30)))
    assert check_sandbox_dir(ServerConfig(data_dir=tmp_path, sandbox_dir=Path("/tmp/s")))
