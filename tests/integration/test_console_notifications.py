"""The console's Notifications page against a real server (--console-port, no Ray): a run that
fails (its script is missing) is listed, a second one arrives on the page's live events, and
another account's principal sees neither (plain HTTP); in headless Chromium, a failure shows up
on the open page without a reload."""

from __future__ import annotations

import http.client
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sluice.sdk import Client
from sluice.sdk.config import ClientOptions
from tests.integration.conftest import (
    OPERATOR_TOKEN,
    ServerProcess,
    free_port,
    start_server,
    stop_server,
    wait_until,
)
from tests.integration.test_console import CHROMIUM, Http, _screenshot

pytestmark = pytest.mark.integration

ACCOUNT = "333333333333"
OTHER_ACCOUNT = "444444444444"
# The notifier looks every 2 s; a run of a missing script fails at once.
EVENT_TIMEOUT_S = 60.0


@dataclass
class Served:
    server: ServerProcess
    port: int
    alice: str
    bob: str


def _client(address: str, token: str) -> Client:
    return Client(ClientOptions(address=address, token=token, config_file="/nonexistent"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port = free_port()
    server = start_server(tmp_path_factory.mktemp("notify"), "--console-port", str(port))
    try:
        with _client(server.address, OPERATOR_TOKEN) as operator:
            tokens = {}
            for account, name in ((ACCOUNT, "alice"), (OTHER_ACCOUNT, "bob")):
                operator.iam.create_principal(name, roles=["admin"], account=account)
                tokens[name] = operator.iam.create_token(name, account=account).token
        with _client(server.address, tokens["alice"]) as alice:
            alice.jobs.create(
                {
                    "name": "doomed",
                    "role": "etl",
                    "command": {"script_location": "sluice://scripts/missing.py"},
                    "execution_property": {"max_concurrent_runs": 2},
                }
            )
        yield Served(server, port, tokens["alice"], tokens["bob"])
    finally:
        stop_server(server.process)


def fail_a_run(served: Served) -> str:
    with _client(served.server.address, served.alice) as alice:
        run_id = alice.jobs.start_run("doomed")
        wait_until(
            lambda: any(e.run_id == run_id for e in alice.notifications.events()),
            EVENT_TIMEOUT_S,
            "the failed run's event",
        )
    return run_id


def test_the_page_lists_failed_runs_and_follows_new_ones_live(served: Served) -> None:
    first = fail_a_run(served)
    alice = Http(served.port)
    assert alice.sign_in(served.alice) == 303

    status, _, page = alice.request("GET", "/notifications")

    assert status == 200
    assert first[:16] in page and "FAILED" in page and "doomed" in page
    assert 'href="/notifications"' in page  # in the navigation
    newest = page.split('data-events="/notifications/follow?after=')[1].split('"')[0]
    assert int(newest) > 0

    # The page's live events: a second failure arrives on the open stream.
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=EVENT_TIMEOUT_S)
    cookies = "; ".join(f"{k}={v}" for k, v in alice.cookies.items())
    conn.request("GET", f"/notifications/follow?after={newest}", headers={"Cookie": cookies})
    stream = conn.getresponse()
    assert stream.status == 200
    assert stream.getheader("Content-Type", "").startswith("text/event-stream")
    second = fail_a_run(served)
    event = ""
    while "data:" not in event:
        event += stream.readline().decode()
    conn.close()
    assert event.startswith("event: runevent")
    data = json.loads(event.split("data: ", 1)[1])
    assert (data["run"], data["kind"], data["job"]) == (second, "FAILED", "doomed")

    bob = Http(served.port)
    bob.sign_in(served.bob)
    status, _, page = bob.request("GET", "/notifications")
    assert status == 200
    assert "doomed" not in page and first[:16] not in page and "No notifications." in page
    assert Http(served.port).request("GET", "/notifications")[0] == 303  # no session


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


def test_browser_shows_a_failure_live(served: Served, browser: object) -> None:
    # SLUICE_CONSOLE_SCREENSHOTS=1 refreshes docs/console/notifications.png.
    context = browser.new_context(viewport={"width": 1280, "height": 600})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{served.port}/signin")
        page.get_by_label("API token").fill(served.alice)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/databases")
        page.get_by_role("link", name="Notifications").click()
        page.wait_for_url("**/notifications")
        page.locator("#follow[data-open='1']").wait_for(timeout=15_000)

        run_id = fail_a_run(served)

        live = page.locator("#run-events tbody tr.live")
        live.first.wait_for(timeout=EVENT_TIMEOUT_S * 1000)
        assert run_id[:16] in live.first.inner_text() and "FAILED" in live.first.inner_text()
        if os.environ.get("SLUICE_CONSOLE_SCREENSHOTS") == "1":
            _screenshot(page, "notifications")
    finally:
        context.close()
