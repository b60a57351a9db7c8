"""Console benchmark: page times of the browser console (--console-port) against a real server on
SQLite (or --db), authentication and the audit trail on; prints one JSON line.

    python benchmarks/console_bench.py [--tables 10000] [--partitions 100000] [--samples 40]

Figures (milliseconds, measured by a plain HTTP client on loopback: the server's time to answer
a page, the browser's rendering left out): console_tables_page_p50_ms / _p95_ms (the first page
of a database with --tables tables), console_tables_search_p95_ms (a name search),
console_partitions_page_p95_ms (the first page of a table with --partitions partitions),
console_partitions_next_page_p95_ms (a page deep in that table) and
console_partitions_expression_p95_ms (a selective Glue expression). Target: p95 <= 300 ms.

Then, unless --log-lines 0, log lines from the script's print to the browser: the server keeps a
warm pool of one on its embedded Ray, a Spark job prints --log-lines lines 0.25 s apart (each
with the time it printed it), and a signed-in client reads the run page's live event stream
(/jobs/JOB/runs/RUN/events, what the page's EventSource reads), opened right after
StartJobRun: console_log_p50_s / _p95_s / _max_s (printed -> received; target p95 <= 1 s) and
console_log_first_line_s (the first line, printed while the launch may still be in flight).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import catalog_bench as cb

from sluice.catalog.v1 import catalog_pb2 as pb
from sluice.catalog.v1 import catalog_pb2_grpc as pb_grpc
from sluice.catalog.v1 import types_pb2 as t
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from sluice.jobs.v1 import types_pb2 as job_types

DB, TABLE = "bench", "events"


@contextmanager
def _console_server(db_url: str | None, pool_size: int = 0) -> Iterator[tuple[str, int]]:
    """A server with the console on free ports (and a warm pool of pool_size on its embedded
    Ray); yields (gRPC address, console port)."""
    port, console_port = cb._free_port(), cb._free_port()
    with tempfile.TemporaryDirectory(prefix="sluice-console-bench-") as data_dir:
        cmd = [
            sys.executable,
            "-m",
            "sluice.control_plane",
            "--port",
            str(port),
            "--console-port",
            str(console_port),
            "--data-dir",
            data_dir,
            "--pool-size",
            str(pool_size),
            "--log-level",
            "WARNING",
        ]
        if db_url:
            cmd += ["--db", db_url]
        env = {**os.environ, "SLUICE_BOOTSTRAP_TOKEN": cb.TOKEN}
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        address = f"127.0.0.1:{port}"
        try:
            cb._wait_serving(address, proc, 180.0 if pool_size else 60.0)
            yield address, console_port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _load(address: str, tables: int, partitions: int) -> None:
    with cb._channel(address) as channel:
        stub = pb_grpc.CatalogServiceStub(channel)
        stub.CreateDatabase(pb.CreateDatabaseRequest(database_input=t.DatabaseInput(name=DB)))
        columns = [t.Column(name=f"c{i}", type="string") for i in range(10)]
        keys = [t.Column(name="region", type="string"), t.Column(name="day", type="int")]
        stub.CreateTable(
            pb.CreateTableRequest(
                database_name=DB,
                table_input=t.TableInput(
                    name=TABLE,
                    storage_descriptor=t.StorageDescriptor(columns=columns, location="/d/e"),
                    partition_keys=keys,
                ),
            )
        )
        for i in range(tables - 1):
            stub.CreateTable(
                pb.CreateTableRequest(
                    database_name=DB,
                    table_input=t.TableInput(
                        name=f"t{i:05d}",
                        storage_descriptor=t.StorageDescriptor(columns=columns, location="/d/t"),
                    ),
                )
            )
        days = 1000
        regions = max(1, partitions // days)
        for region in range(regions):
            for start in range(0, days, 100):
                stub.BatchCreatePartition(
                    pb.BatchCreatePartitionRequest(
                        database_name=DB,
                        table_name=TABLE,
                        partition_input_list=[
                            t.PartitionInput(
                                values=[f"r{region:03d}", str(day)],
                                storage_descriptor=t.StorageDescriptor(
                                    location=f"/d/e/r{region}/{day}"
                                ),
                            )
                            for day in range(start, start + 100)
                        ],
                    )
                )


class _Browser:
    """A signed-in plain HTTP client of the console (one keep-alive connection)."""

    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._cookies: dict[str, str] = {}
        page = self.get("/signin")[1]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        status, _ = self._send("POST", "/signin", {"csrf": csrf.group(1), "token": cb.TOKEN})
        assert status == 303, status

    def _cookie(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items())}

    def _send(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = self._cookie()
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self._conn.request(method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        text = response.read().decode()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self._cookies[key] = rest.split(";")[0]
        return response.status, text

    def get(self, path: str) -> tuple[int, str]:
        return self._send("GET", path)

    def events(self, path: str) -> Iterator[tuple[str, dict, float]]:
        """The server-sent events of path on a connection of their own, as (event, data, the
        time it was received)."""
        conn = http.client.HTTPConnection("127.0.0.1", self._conn.port, timeout=300)
        try:
            conn.request("GET", path, headers=self._cookie())
            response = conn.getresponse()
            assert response.status == 200, response.status
            event = ""
            while line := response.readline():
                text = line.decode().rstrip("\n")
                if text.startswith("event: "):
                    event = text.removeprefix("event: ")
                elif text.startswith("data: "):
                    yield event, json.loads(text.removeprefix("data: ")), time.time()
        finally:
            conn.close()

    def timed(self, path: str, samples: int) -> tuple[float, float, str]:
        times, page = [], ""
        for _ in range(samples):
            started = time.perf_counter()
            status, page = self.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert status == 200, (path, status, page[:300])
        return cb._percentile(times, 0.5), cb._percentile(times, 0.95), page


LOG_SCRIPT = """
import time
for i in range({lines}):
    print(f"LAT {{time.time():.6f}}", flush=True)
    time.sleep(0.25)
"""


def log_latency(address: str, browser: _Browser, lines: int) -> dict[str, object]:
    """Print -> browser times of a Spark job's lines on a warm environment."""
    name = "log-latency"
    with cb._channel(address) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)
        location = jobs.UploadScript(
            jobs_pb2.UploadScriptRequest(
                name=f"{name}.py", content=LOG_SCRIPT.format(lines=lines).encode()
            )
        ).script_location
        jobs.CreateJob(
            jobs_pb2.CreateJobRequest(
                name=name,
                role="bench",
                command=job_types.JobCommand(name="glueetl", script_location=location),
            )
        )
        deadline = time.monotonic() + 600
        while jobs.GetPoolStatus(jobs_pb2.GetPoolStatusRequest()).pool_status.warm < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("no warm environment after 600 s")
            time.sleep(1)
        run_id = jobs.StartJobRun(jobs_pb2.StartJobRunRequest(job_name=name)).job_run_id
    # The same lines through TailJobRunLogs beside the console: where a browser's lag is the
    # API's, and where the console's.
    api_lags: list[float] = []
    tail = threading.Thread(target=_tail, args=(address, name, run_id, api_lags), daemon=True)
    tail.start()
    lags: list[float] = []
    # Print -> the scheduler's read (the entry's timestamp), the part of each lag before the
    # store; the rest is the store -> browser relay.
    read_lags: list[float] = []
    state = ""
    for event, data, received in browser.events(f"/jobs/{name}/runs/{run_id}/events"):
        if event == "log" and data["message"].startswith("LAT "):
            printed = float(data["message"].split()[1])
            lags.append(received - printed)
            read_lags.append(datetime.fromisoformat(data["time"]).timestamp() - printed)
        elif event in ("state", "end"):
            state = data.get("state", state)
        if event in ("end", "failure"):
            break
    assert len(lags) == lines and state == "SUCCEEDED", (len(lags), state)
    tail.join(30)
    return {
        "log_lines": lines,
        "console_log_first_line_s": round(lags[0], 3),
        "console_log_p50_s": round(cb._percentile(lags, 0.5), 3),
        "console_log_p95_s": round(cb._percentile(lags, 0.95), 3),
        "console_log_max_s": round(max(lags), 3),
        "console_log_lags_s": [round(lag, 2) for lag in lags],
        "console_log_read_lags_s": [round(lag, 2) for lag in read_lags],
        "api_log_lags_s": [round(lag, 2) for lag in api_lags],
        "console_log_target_p95_s": 1.0,
    }


def _tail(address: str, name: str, run_id: str, lags: list[float]) -> None:
    with cb._channel(address) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)
        request = jobs_pb2.TailJobRunLogsRequest(job_name=name, run_id=run_id)
        for answer in jobs.TailJobRunLogs(request, timeout=600):
            received = time.time()
            for entry in answer.entries:
                if entry.message.startswith("LAT "):
                    lags.append(received - float(entry.message.split()[1]))


def run(args: argparse.Namespace) -> dict[str, object]:
    pool = 1 if args.log_lines else 0
    with _console_server(args.db, pool) as (address, port):
        started = time.perf_counter()
        _load(address, args.tables, args.partitions)
        load_s = time.perf_counter() - started
        browser = _Browser(port)
        figures: dict[str, object] = {
            "benchmark": "console",
            "tables": args.tables,
            "partitions": args.partitions,
            "load_s": round(load_s, 1),
        }
        p50, p95, _ = browser.timed(f"/databases/{DB}", args.samples)
        figures |= {"console_tables_page_p50_ms": round(p50, 1)}
        figures |= {"console_tables_page_p95_ms": round(p95, 1)}
        _, p95, _ = browser.timed(f"/databases/{DB}?q=t0999", args.samples)
        figures["console_tables_search_p95_ms"] = round(p95, 1)
        base = f"/databases/{DB}/tables/{TABLE}/partitions"
        p50, p95, page = browser.timed(base, args.samples)
        figures |= {"console_partitions_page_p50_ms": round(p50, 1)}
        figures |= {"console_partitions_page_p95_ms": round(p95, 1)}
        following = re.search(r'rel="next" href="([^"]+)"', page)
        assert following, "no next page"
        deep = base + following.group(1).replace("&amp;", "&")
        for _ in range(20):  # 20 pages in
            _, text = browser.get(deep)
            found = re.search(r'rel="next" href="([^"]+)"', text)
            if not found:
                break
            deep = base + found.group(1).replace("&amp;", "&")
        _, p95, _ = browser.timed(deep, args.samples)
        figures["console_partitions_next_page_p95_ms"] = round(p95, 1)
        region = min(7, max(1, args.partitions // 1000) - 1)
        expression = urllib.parse.quote(f"region = 'r{region:03d}' AND day BETWEEN 100 AND 149")
        _, p95, page = browser.timed(f"{base}?expression={expression}", args.samples)
        assert page.count("<tr>") >= 50, "the expression's partitions are missing"
        figures["console_partitions_expression_p95_ms"] = round(p95, 1)
        figures["target_p95_ms"] = 300
        figures["ok"] = all(
            float(v) <= 300
            for k, v in figures.items()
            if k.endswith("_p95_ms") and "target" not in k
        )
        if args.log_lines:
            figures |= log_latency(address, browser, args.log_lines)
            figures["ok"] = figures["ok"] and float(figures["console_log_p95_s"]) <= 1.0
        with contextlib.suppress(OSError):
            figures["load_1m"] = round(os.getloadavg()[0], 1)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--tables", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument(
        "--log-lines", type=int, default=40, help="lines of the log figure (0: no Ray, no figure)"
    )
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
