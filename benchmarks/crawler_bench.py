"""Crawler benchmark: crawls through a real server (each crawl in its worker process, writing
the catalog through the API) and prints one JSON line.

    python benchmarks/crawler_bench.py [--files 10000] [--db postgresql://...]

Datasets: N small Parquet files and N CSV files, each in a 3-level Hive partition tree
(year=/month=/day=, 20 files per leaf folder). Figures, from StartCrawler until the crawl is
COMPLETED: parquet_files_per_s (target >= 2,000), csv_files_per_s (target >= 1,000),
partitions_per_s (partitions created per second over both crawls), and recrawl_new_folders_s
(CRAWL_NEW_FOLDERS_ONLY after 100 new files in 5 new folders, target <= 5 s). The engine alone
(no server, no catalog writes) is measured too, and the load average at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import catalog_bench as cb
import pyarrow as pa
import pyarrow.parquet as pq

from sluice.agents.crawler.engine import crawl
from sluice.sdk.client import Client
from sluice.sdk.config import ClientOptions

FILES_PER_FOLDER = 20


def _tree(n: int) -> list[str]:
    leaves = max(1, n // FILES_PER_FOLDER)
    out = []
    for i in range(leaves):
        year, rest = divmod(i, 250)
        month, day = divmod(rest, 25)
        out.append(f"year={2020 + year}/month={month + 1:02d}/day={day + 1:02d}")
    return out


def _write_parquet(root: Path, folders: list[str]) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(range(10), pa.int64()), "v": [0.5] * 10}), buf)
    data = buf.getvalue()
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for j in range(FILES_PER_FOLDER):
            (root / folder / f"part-{j:03d}.parquet").write_bytes(data)


def _write_csv(root: Path, folders: list[str]) -> None:
    data = "id,name,amount\n" + "".join(f"{i},n{i},{i}.5\n" for i in range(10))
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for j in range(FILES_PER_FOLDER):
            (root / folder / f"part-{j:03d}.csv").write_text(data)


def _crawl(client: Client, name: str) -> tuple[float, dict]:
    started = time.perf_counter()
    client.crawlers.start(name)
    last = client.crawlers.wait(name, timeout_s=900, poll_s=0.05)
    elapsed = time.perf_counter() - started
    if last.error_message:
        raise SystemExit(f"crawl {name} failed: {last.error_message}")
    return elapsed, json.loads(last.summary or "{}")


def run(files: int, db_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="sluice-crawl-bench-") as tmp:
        base = Path(tmp)
        folders = _tree(files)
        _write_parquet(base / "pq", folders)
        _write_csv(base / "csv", folders)
        n = len(folders) * FILES_PER_FOLDER

        t0 = time.perf_counter()
        engine_pq = crawl(str(base / "pq"))
        engine_pq_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        crawl(str(base / "csv"))
        engine_csv_s = time.perf_counter() - t0
        assert len(engine_pq.tables) == 1 and len(engine_pq.tables[0].partitions) == len(folders)

        port = cb._free_port()
        data_dir = base / "data"
        cmd = [
            sys.executable, "-m", "sluice.control_plane", "--port", str(port),
            "--data-dir", str(data_dir), "--plaintext", "--pool-size", "0",
            "--crawl-root", str(base),
            "--log-level", "WARNING",
        ]  # fmt: skip
        if db_url:
            cmd += ["--db", db_url]
        env = {**os.environ, "SLUICE_BOOTSTRAP_TOKEN": cb.TOKEN}
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        address = f"127.0.0.1:{port}"
        try:
            cb._wait_serving(address, proc, 60.0)
            with Client(ClientOptions(address=address, token=cb.TOKEN, timeout_s=120)) as client:
                for name, root, recrawl in (
                    ("pq", base / "pq", "RECRAWL_BEHAVIOR_CRAWL_NEW_FOLDERS_ONLY"),
                    ("csv", base / "csv", "RECRAWL_BEHAVIOR_CRAWL_EVERYTHING"),
                ):
                    client.crawlers.create(
                        {
                            "name": name,
                            "role": "admin",
                            "database_name": "bench",
                            "targets": {"s3_targets": [{"path": f"file://{root}"}]},
                            "recrawl_policy": {"recrawl_behavior": recrawl},
                        }
                    )
                pq_s, pq_summary = _crawl(client, "pq")
                csv_s, csv_summary = _crawl(client, "csv")
                extra = [f"year=2099/month=01/day={d:02d}" for d in range(1, 6)]
                _write_parquet(base / "pq", extra)
                recrawl_s, recrawl_summary = _crawl(client, "pq")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        partitions = pq_summary["partitions_created"] + csv_summary["partitions_created"]
        return {
            "files_per_format": n,
            "partitions_per_crawl": len(folders),
            "parquet_files_per_s": round(n / pq_s, 1),
            "csv_files_per_s": round(n / csv_s, 1),
            "partitions_per_s": round(partitions / (pq_s + csv_s), 1),
            "recrawl_new_folders_s": round(recrawl_s, 3),
            "recrawl_files": recrawl_summary["files"],
            "recrawl_partitions_created": recrawl_summary["partitions_created"],
            "engine_parquet_files_per_s": round(n / engine_pq_s, 1),
            "engine_csv_files_per_s": round(n / engine_csv_s, 1),
            "db": "postgresql" if db_url else "sqlite",
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="Files per format.")
    parser.add_argument("--db", default=None, help="PostgreSQL URL (default: SQLite).")
    args = parser.parse_args()
    print(json.dumps(run(args.files, args.db)))


if __name__ == "__main__":
    main()
