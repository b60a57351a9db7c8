"""The browser console (--console-port) against a real server: headless Chromium (Debian's, driven
by Playwright) signs in, browses a table's partitions with a Glue expression, opens an audit
record's trace; another account's principal sees none of the first account's resources, also by
guessing URLs; sessions and CSRF with a plain HTTP client. One browser for the module."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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

pytestmark = pytest.mark.integration

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
CHROMIUM = "/usr/bin/chromium"
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


@dataclass
class Console:
    server: ServerProcess
    url: str
    port: int
    alice: str  # a token of account ACCOUNT (role admin there)
    bob: str  # a token of OTHER_ACCOUNT
    job: str


def _client(address: str, token: str) -> Client:
    return Client(ClientOptions(address=address, token=token, config_file="/nonexistent"))


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    port = free_port()
    server = start_server(tmp_path_factory.mktemp("console"), "--console-port", str(port))
    try:
        with _client(server.address, OPERATOR_TOKEN) as operator:
            tokens = {}
            for account, name in ((ACCOUNT, "alice"), (OTHER_ACCOUNT, "bob")):
                operator.iam.create_principal(name, roles=["admin"], account=account)
                tokens[name] = operator.iam.create_token(name, account=account).token
        with _client(server.address, tokens["alice"]) as alice:
            catalog = alice.catalog
            catalog.create_database({"name": "sales", "description": "Sales data"})
            catalog.create_database({"name": "web", "description": XSS})
            table = {
                "name": "orders",
                "storage_descriptor": {
                    "columns": [
                        {"name": "id", "type": "bigint"},
                        {"name": "amount", "type": "double"},
                    ],
                    "location": "/data/orders",
                },
                "partition_keys": [
                    {"name": "year", "type": "int"},
                    {"name": "region", "type": "string"},
                ],
            }
            catalog.create_table("sales", table)
            catalog.update_table("sales", {**table, "description": "orders, v2"})
            for year in range(2000, 2050):
                catalog.batch_create_partition(
                    "sales",
                    "orders",
                    [{"values": [str(year), r]} for r in ("eu", "us", "apac", "af", "sa")],
                )
            catalog.create_table("sales", {**table, "name": "returns", "partition_keys": []})
            catalog.create_connection(
                {
                    "name": "warehouse",
                    "connection_type": "JDBC",
                    "connection_properties": {
                        "JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/wh",
                        "USERNAME": "etl",
                        "PASSWORD": "hunter2-secret",
                    },
                }
            )
            location = alice.jobs.upload_script("nightly.py", "print('hello')\n")
            alice.jobs.create(
                {"name": "nightly", "role": "etl", "command": {"script_location": location}}
            )
        yield Console(
            server, f"http://127.0.0.1:{port}", port, tokens["alice"], tokens["bob"], "nightly"
        )
    finally:
        stop_server(server.process)


# --- a plain HTTP client: sessions and CSRF ------------------------------------------------


class Http:
    """A tiny cookie-keeping HTTP client (no redirects followed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = urllib.parse.urlencode(form) if form is not None else None
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        text = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";")[0].strip('"')
                if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = cookie_value
        headers_out = {k.lower(): v for k, v in response.getheaders()}
        headers_out["set-cookie"] = "\n".join(
            v for k, v in response.getheaders() if k.lower() == "set-cookie"
        )
        conn.close()
        return response.status, headers_out, text

    def sign_in(self, token: str) -> int:
        _, _, page = self.request("GET", "/signin")
        status, _, _ = self.request("POST", "/signin", {"csrf": _csrf(page), "token": token})
        return status


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_session_cookie_is_httponly_strict_and_keeps_no_token(console: Console) -> None:
    client = Http(console.port)
    _, _, page = client.request("GET", "/signin")
    status, headers, _ = client.request(
        "POST", "/signin", {"csrf": _csrf(page), "token": console.alice}
    )
    assert status == 303 and headers["location"] == "/databases"
    cookie = next(c for c in headers["set-cookie"].split("\n") if c.startswith("sluice_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert console.alice not in headers["set-cookie"]
    status, headers, page = client.request("GET", "/databases")
    assert status == 200 and "alice" in page and ACCOUNT in page
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_pages_need_a_session(console: Console) -> None:
    client = Http(console.port)
    for path in ("/databases", "/databases/sales/tables/orders/partitions", "/jobs", "/audit"):
        status, headers, _ = client.request("GET", path)
        assert (status, headers["location"]) == (303, "/signin"), path
    assert client.request("GET", "/audit/follow")[0] == 401
    client.cookies["sluice_console"] = "forged-session-id"
    assert client.request("GET", "/databases")[0] == 303


def test_a_bad_token_does_not_sign_in(console: Console) -> None:
    client = Http(console.port)
    assert client.sign_in("slk_0000000000000bad_" + "x" * 43) == 401
    assert "sluice_console" not in client.cookies


def test_forms_without_the_csrf_token_are_refused(console: Console) -> None:
    client = Http(console.port)
    # Sign-in itself: no token, a wrong one, or a foreign origin.
    client.request("GET", "/signin")
    assert client.request("POST", "/signin", {"token": console.alice})[0] == 403
    assert client.request("POST", "/signin", {"csrf": "guess", "token": console.alice})[0] == 403
    assert client.sign_in(console.alice) == 303
    _, _, page = client.request("GET", f"/jobs/{console.job}")
    csrf = _csrf(page)
    # Starting a run and signing out need the session's CSRF token, from this origin.
    assert client.request("POST", f"/jobs/{console.job}/runs", {"arguments": ""})[0] == 403
    assert client.request("POST", "/signout", {"csrf": "x" + csrf})[0] == 403
    evil = {"origin": "http://evil.example"}
    assert client.request("POST", "/signout", {"csrf": csrf}, **evil)[0] == 403
    assert client.request("GET", "/databases")[0] == 200  # still signed in
    assert client.request("POST", "/signout", {"csrf": csrf})[0] == 303
    assert client.request("GET", "/databases")[0] == 303  # signed out
    # The old session id is gone on the server, not just from the browser.
    assert "sluice_console" not in client.cookies


def test_another_account_sees_nothing_of_the_first_even_by_url(console: Console) -> None:
    bob = Http(console.port)
    assert bob.sign_in(console.bob) == 303
    status, _, page = bob.request("GET", "/databases")
    assert status == 200 and "sales" not in page and OTHER_ACCOUNT in page
    guessed = [
        "/databases/sales",
        "/databases/sales/tables/orders",
        "/databases/sales/tables/orders/versions",
        "/databases/sales/tables/orders/partitions?expression=year%3D2001",
        f"/jobs/{console.job}",
    ]
    for path in guessed:
        status, _, page = bob.request("GET", path)
        assert status == 404, (path, status)
        assert "2001" not in page and "/data/orders" not in page and "amount" not in page
    for path in ("/connections", "/jobs", "/triggers", "/crawlers", "/pool"):
        status, _, page = bob.request("GET", path)
        assert status == 200
        assert "warehouse" not in page and "nightly" not in page and "alice" not in page, path
    # Bob's trail holds his own calls (the names he guessed above, refused), none of alice's.
    status, _, page = bob.request("GET", "/audit")
    assert status == 200
    assert ACCOUNT not in page and "alice" not in page and "warehouse" not in page
    # Nor can bob start alice's job.
    _, _, page = bob.request("GET", "/jobs")
    assert bob.request("POST", f"/jobs/{console.job}/runs", {"csrf": _csrf(page)})[0] == 404


def test_what_the_api_returns_is_escaped_in_pages(console: Console) -> None:
    client = Http(console.port)
    client.sign_in(console.alice)
    status, _, page = client.request("GET", "/databases")
    assert status == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page


def test_connections_never_show_a_secret(console: Console) -> None:
    client = Http(console.port)
    client.sign_in(console.alice)
    status, _, page = client.request("GET", "/connections")
    assert status == 200 and "warehouse" in page and "jdbc:postgresql" in page
    assert "hunter2" not in page and "PASSWORD" not in page


def test_the_audit_trail_is_filtered_by_trace_id(console: Console) -> None:
    alice, bob = Http(console.port), Http(console.port)
    alice.sign_in(console.alice)
    bob.sign_in(console.bob)
    alice.request("GET", "/databases/sales/tables/orders")
    # The trail is written in batches: wait for the call's record.
    traces = wait_until(
        lambda: set(
            re.findall(
                r'href="/audit/trace/([0-9a-f]{32})',
                alice.request("GET", "/audit?action=GetTable")[2],
            )
        ),
        30,
        "alice's GetTable in her trail",
    )
    trace = sorted(traces)[0]
    status, _, page = alice.request("GET", f"/audit?trace_id={trace}")
    assert status == 200 and re.findall(r'href="/audit/trace/([0-9a-f]{32})', page)
    assert set(re.findall(r'href="/audit/trace/([0-9a-f]{32})', page)) == {trace}
    assert f'value="{trace}"' in page  # the filter is kept in the form
    # Another account's principal who knows the id sees nothing of that trace.
    status, _, page = bob.request("GET", f"/audit?trace_id={trace}")
    assert status == 200 and f"/audit/trace/{trace}" not in page and "No records." in page
    status, _, page = bob.request("GET", f"/audit/trace/{trace}")
    assert status == 200 and "GetTable" not in page and "orders" not in page


# --- a real browser ----------------------------------------------------------------------


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


def _screenshot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))  # type: ignore[attr-defined]


def test_browser_signs_in_browses_partitions_and_opens_a_trace(
    console: Console, browser: object
) -> None:
    # SLUICE_CONSOLE_SCREENSHOTS=1 refreshes the README's screenshots (docs/console/).
    shots = os.environ.get("SLUICE_CONSOLE_SCREENSHOTS") == "1"
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{console.url}/")
        page.get_by_label("API token").fill(console.alice)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/databases")
        assert page.locator("#principal").inner_text() == "alice"
        assert page.locator("#account").inner_text() == ACCOUNT
        page.get_by_role("link", name="sales").click()
        page.get_by_label("Search tables").fill("ord")
        page.get_by_role("button", name="Search").click()
        rows = page.locator("#tables tbody tr")
        assert rows.count() == 1 and "orders" in rows.first.inner_text()
        if shots:
            _screenshot(page, "tables")
        page.get_by_role("link", name="orders").click()
        assert "amount" in page.locator("#schema").inner_text()
        if shots:
            _screenshot(page, "table")
        page.get_by_role("link", name="Versions").click()
        assert "orders, v2" in page.locator("#diff").inner_text()
        page.go_back()
        page.get_by_role("link", name="Partitions").click()
        # 250 partitions: a page of 100 and a next page.
        assert page.locator("#partitions tbody tr").count() == 100
        page.get_by_label("Glue expression").fill(
            "year BETWEEN 2010 AND 2011 AND region IN ('eu', 'apac')"
        )
        page.get_by_role("button", name="Filter").click()
        cells = page.locator("#partitions tbody tr")
        assert cells.count() == 4
        assert {tuple(r.split("\t")[:2]) for r in cells.all_inner_texts()} == {
            ("2010", "eu"),
            ("2010", "apac"),
            ("2011", "eu"),
            ("2011", "apac"),
        }
        if shots:
            _screenshot(page, "partitions")
        page.get_by_label("Glue expression").fill("year = ")
        page.get_by_role("button", name="Filter").click()
        assert "InvalidInputException" in page.get_by_role("alert").inner_text()
        # The trail shows these calls (door console); one opens as its trace.
        page.get_by_role("link", name="Audit").click()
        page.get_by_label("Action").fill("glue:GetPartitions")
        page.get_by_role("button", name="Filter").click()
        first = page.locator("#events tbody tr").first
        assert "glue:GetPartitions" in first.inner_text()
        if shots:
            _screenshot(page, "audit")
        first.get_by_role("link", name="trace").click()
        bars = page.locator("#waterfall li")
        assert bars.count() >= 1 and "GetPartitions" in bars.first.inner_text()
        width = page.locator("#waterfall .bar").first.evaluate("b => b.style.width")
        assert width.endswith("%")
        if shots:
            _screenshot(page, "trace")
        page.get_by_role("link", name="Jobs").click()
        assert "nightly" in page.locator("#jobs").inner_text()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/signin")
        page.goto(f"{console.url}/databases")
        assert page.url.endswith("/signin")
    finally:
        context.close()


def test_browser_follows_the_audit_trail_live(console: Console, browser: object) -> None:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{console.url}/signin")
        page.get_by_label("API token").fill(console.alice)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/databases")
        page.goto(f"{console.url}/audit?action=glue%3AGetTable&since=15m")
        page.get_by_label("Follow live").check()
        page.locator("#follow[data-open='1']").wait_for(timeout=15_000)
        live = page.locator("#events tbody tr.live")
        # A call made elsewhere (the SDK) shows up without reloading the page. The stream may
        # begin a moment after the page's event source opens: call until a row arrives.
        with _client(console.server.address, console.alice) as alice:
            deadline = time.monotonic() + 20
            while live.count() == 0:
                assert time.monotonic() < deadline, "no live audit row"
                alice.catalog.get_table("sales", "returns")
                with contextlib.suppress(Exception):
                    live.first.wait_for(timeout=1_000)
        assert "table/sales/returns" in live.first.inner_text()
    finally:
        context.close()


def test_browser_creates_and_edits_a_job_with_its_script_in_the_editor(
    console: Console, browser: object
) -> None:
    shots = os.environ.get("SLUICE_CONSOLE_SCREENSHOTS") == "1"
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(f"{console.url}/signin")
        page.get_by_label("API token").fill(console.alice)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/databases")
        page.goto(f"{console.url}/jobs")
        page.get_by_role("link", name="Create a job").click()
        page.get_by_label("Name", exact=True).fill("edited")
        page.get_by_label("Role").fill("etl")
        page.get_by_label("Number of workers").fill("3")
        page.get_by_label("Connections").fill("warehouse")
        page.get_by_label("Default arguments").fill("--day=2024-05-01")
        # The script is typed into CodeMirror (Python highlighting), replacing the template.
        editor = page.locator("#script-editor")
        assert editor.locator(".cm-keyword").count() >= 1  # `import` is highlighted
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.type('import sys\nprint("typed in the editor")\n')
        # Tab stays in the editor (it indents); Esc leaves it for the form's button.
        page.keyboard.press("Escape")
        assert page.evaluate("document.activeElement.id") == "job-submit"
        if shots:
            _screenshot(page, "job-editor")
        page.get_by_role("button", name="Create job").click()
        page.wait_for_url("**/jobs/edited")
        text = page.locator("main").inner_text()
        assert "G.1X \u00d7 3" in text and "warehouse" in text and "--day=2024-05-01" in text
        # Edit: the editor opens with the uploaded script; a change is uploaded again.
        page.get_by_role("link", name="Edit the job and its script").click()
        editor = page.locator("#script-editor")
        assert 'print("typed in the editor")' in editor.locator(".CodeMirror-code").inner_text()
        editor.click()
        page.keyboard.press("Control+End")
        page.keyboard.type('print("edited")\n')
        page.get_by_label("Number of workers").fill("1")
        page.get_by_role("button", name="Save job").click()
        # The API's refusal, naming the member, is shown on the form, which keeps the edit.
        assert "number_of_workers" in page.get_by_role("alert").inner_text()
        assert 'print("edited")' in page.locator("#script-editor .CodeMirror-code").inner_text()
        page.get_by_label("Number of workers").fill("4")
        page.get_by_label("Max retries").fill("2")
        page.get_by_role("button", name="Save job").click()
        page.wait_for_url("**/jobs/edited")
        assert "G.1X \u00d7 4" in page.locator("main").inner_text()
        # And a run of it starts from its page.
        page.get_by_role("button", name="Start run").click()
        page.wait_for_url(re.compile(r".*/jobs/edited/runs/jr_.*"))
    finally:
        context.close()
    # The script as stored: what was typed, then the edit.
    alice = Http(console.port)
    alice.sign_in(console.alice)
    status, _, page_text = alice.request("GET", "/jobs/edited/edit")
    assert status == 200
    assert "print(&#34;typed in the editor&#34;)\nprint(&#34;edited&#34;)" in page_text
    # Without JavaScript the form is the same fields and a plain textarea.
    assert '<textarea id="script" name="script"' in page_text
    # Another account's principal can neither see nor change the job or its script.
    bob = Http(console.port)
    bob.sign_in(console.bob)
    assert bob.request("GET", "/jobs/edited/edit")[0] == 404
    _, _, form = bob.request("GET", "/new-job")
    changed = {"csrf": _csrf(form), "role": "x", "number_of_workers": "2", "script": "x = 1\n"}
    assert bob.request("POST", "/jobs/edited/edit", changed)[0] == 404
    _, _, page_text = alice.request("GET", "/jobs/edited/edit")
    assert "x = 1" not in page_text and "typed in the editor" in page_text
