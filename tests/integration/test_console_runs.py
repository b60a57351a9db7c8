"""The console's run page on a real run (the session's Ray server, warm pool of one): start a run
with arguments from the browser and watch its log lines arrive while it runs, then its end.
Run under the machine-wide lock: `flock /tmp/sluice-ray.lock .venv/bin/python -m pytest ...`."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator

import pytest

from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2
from tests.integration.conftest import (
    OPERATOR_TOKEN,
    ServerProcess,
    authed_channel,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# Lines a while apart, so that the first is on the page long before the run ends.
TICKING_SCRIPT = """
import sys, time
from sluice.sdk.args import getResolvedOptions

args = getResolvedOptions(sys.argv, ["greeting"])
for i in range(6):
    print(f"{args['greeting']} tick {i} at {time.time():.3f}", flush=True)
    time.sleep(1.0)
print("oops on stderr", file=sys.stderr, flush=True)
"""
SLEEPING_SCRIPT = """
import time
print("sleeping", flush=True)
time.sleep(600)
"""


def console_url(server: ServerProcess) -> str:
    found = wait_until(
        lambda: re.search(r"\"?console\"?[=:] ?\"?(http://[0-9.:]+)/", server.log_text()),
        30,
        "the console's address in the server's log",
    )
    return found.group(1)


def _create_job(ray_server: ServerProcess, script: str) -> str:
    name = f"console-{uuid.uuid4().hex[:8]}"
    with authed_channel(ray_server.address) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)
        location = jobs.UploadScript(
            jobs_pb2.UploadScriptRequest(name=f"{name}.py", content=script.encode())
        ).script_location
        jobs.CreateJob(
            jobs_pb2.CreateJobRequest(
                name=name,
                role=f"role-{name}",
                command=types_pb2.JobCommand(name="glueetl", script_location=location),
            )
        )
    return name


@pytest.fixture(scope="module")
def job(ray_server: ServerProcess) -> str:
    return _create_job(ray_server, TICKING_SCRIPT)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("no Chromium (apt-get install chromium; scripts/system_packages.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_runs_log_lines_arrive_live(ray_server: ServerProcess, job: str, browser: object) -> None:
    url = console_url(ray_server)
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{url}/signin")
        page.get_by_label("API token").fill(OPERATOR_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/databases")
        page.goto(f"{url}/jobs/{job}")
        page.get_by_label("Arguments").fill("--greeting=hello")
        page.get_by_role("button", name="Start run").click()
        page.wait_for_url(re.compile(r".*/runs/jr_.*"))
        logs = page.locator("#logs")
        # The first line shows while the run still runs (five more seconds of ticks to go).
        logs.get_by_text("hello tick 0").wait_for(timeout=240_000)
        assert page.locator("#state").inner_text() in ("RUNNING", "STARTING")
        assert logs.get_attribute("data-ended") is None
        # Then the rest, stderr included, and the end of the run.
        page.locator("#logs[data-ended='1']").wait_for(timeout=120_000)
        text = logs.inner_text()
        assert "hello tick 5" in text and "[stderr] oops on stderr" in text
        assert page.locator("#state").inner_text() == "SUCCEEDED"
        assert page.locator("#stop").count() == 0
        # From the script's print to the page: each tick's arrival minus its printed time.
        arrivals = page.locator("#logs .line.stdout").evaluate_all(
            "ls => ls.map(l => [l.textContent, Number(l.dataset.at), Number(l.dataset.stored)])"
        )
        # Each line's print, its copy into the store (the entry's time) and its arrival.
        times = [
            (1000 * float(m.group(1)), stored, at)
            for text, at, stored in arrivals
            if (m := re.search(r"tick \d at ([0-9.]+)", text))
        ]
        assert len(times) == 6
        delays = sorted(round(at - printed) for printed, _, at in times)
        to_store = sorted(round(stored - printed) for printed, stored, _ in times)
        to_browser = sorted(round(at - stored) for _, stored, at in times)
        print(
            f"console log line print->browser ms: {delays} (print->store {to_store}, "
            f"store->browser {to_browser})"
        )
        # The job's page charts its runs: this one, green.
        page.goto(f"{url}/jobs/{job}")
        assert page.locator("#history rect.SUCCEEDED").count() == 1
    finally:
        context.close()


def test_a_run_is_stopped_from_its_page(ray_server: ServerProcess, browser: object) -> None:
    url = console_url(ray_server)
    name = _create_job(ray_server, SLEEPING_SCRIPT)
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{url}/signin")
        page.get_by_label("API token").fill(OPERATOR_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/databases")
        page.goto(f"{url}/jobs/{name}")
        page.get_by_role("button", name="Start run").click()
        page.wait_for_url(re.compile(r".*/runs/jr_.*"))
        page.locator("#logs").get_by_text("sleeping").wait_for(timeout=240_000)
        page.get_by_role("button", name="Stop run").click()
        page.wait_for_url(re.compile(r".*/runs/jr_.*"))
        page.locator("#logs[data-ended='1']").wait_for(timeout=120_000)
        assert page.locator("#state").inner_text() in ("STOPPED", "STOPPING")
    finally:
        context.close()
