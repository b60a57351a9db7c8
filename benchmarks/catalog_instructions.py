"""The catalog server's CPU work per call, counted in instructions: one JSON line of figures.

    .venv/bin/python benchmarks/catalog_instructions.py [--preload 30000] [--partitions 3000]

Wall-clock figures (benchmarks/catalog_bench.py) vary by a quarter from one run to the next on
a shared 2-core machine, even for the same code; instruction counts do not. This starts the
same server as catalog_bench.py (embedded SQLite, authentication and audit on, --pool-size 0)
under valgrind's callgrind with instrumentation off, drives it over gRPC, and switches counting
on (`callgrind_control -i on`) only around the calls measured, so start-up and set-up are not
counted. Every thread of the server is counted (the audit writer and the lease keeper included).
Figures:

- batch_create_instructions_per_partition: BatchCreatePartition, 100 partitions a call (Glue's
  limit), into a table that already holds --preload partitions; --partitions are measured.
- get_table_instructions_auth_audit_on / _off: per GetTable call, over --get-calls calls, on a
  server as served and on one with --insecure-no-auth (no authentication, no audit).
- audit_overhead_instructions_ratio: on / off.

To compare two versions of the code, run this script in each checkout (the figures are
reproducible to well under 1 %). Needs valgrind (Debian's package); takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The sibling benchmark: the same server, data and client.
import catalog_bench as cb

from sluice.catalog.v1 import catalog_pb2 as pb
from sluice.catalog.v1 import catalog_pb2_grpc as pb_grpc

# valgrind slows the server down some fifty times.
CALL_TIMEOUT_S = 600.0
START_TIMEOUT_S = 900.0
STOP_TIMEOUT_S = 300.0


@contextmanager
def _counted_server(auth: bool) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """A server under callgrind (counting off); yields its address, process and output file."""
    with tempfile.TemporaryDirectory(prefix="sluice-instr-") as scratch:
        out = Path(scratch) / "callgrind.out"
        wrapper = (
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
        )
        with cb._server_process(
            None,
            auth=auth,
            wrapper=wrapper,
            start_timeout_s=START_TIMEOUT_S,
            stop_timeout_s=STOP_TIMEOUT_S,
        ) as (address, proc):
            yield address, proc, out


def _counting(proc: subprocess.Popen[bytes], on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(proc.pid)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _instructions(proc: subprocess.Popen[bytes], out: Path) -> int:
    """Stops the server and returns the instructions counted (callgrind's summary line)."""
    proc.terminate()
    proc.wait(timeout=STOP_TIMEOUT_S)
    # callgrind writes "summary:" (0 when counting began late) and "totals:"; take the count.
    counts = [int(n) for n in re.findall(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)]
    if not counts or max(counts) == 0:
        raise SystemExit(f"no instruction count in {out}")
    return max(counts)


def _create(stub: pb_grpc.CatalogServiceStub, inputs: list) -> None:
    for i in range(0, len(inputs), 100):
        reply = stub.BatchCreatePartition(
            pb.BatchCreatePartitionRequest(
                database_name=cb.DB, table_name=cb.TABLE, partition_input_list=inputs[i : i + 100]
            ),
            timeout=CALL_TIMEOUT_S,
        )
        if reply.errors:
            raise SystemExit(f"unexpected partition errors: {reply.errors[0]}")


def batch_create(preload: int, partitions: int) -> float:
    """Instructions per partition created, into a table of preload partitions."""
    total = preload + partitions
    days = [cb.FIRST_DAY + timedelta(days=i) for i in range(-(-total // len(cb.REGIONS)))]
    inputs = [cb._partition(r, d) for d in days for r in cb.REGIONS][:total]
    with _counted_server(auth=True) as (address, proc, out), cb._channel(address) as channel:
        stub = pb_grpc.CatalogServiceStub(channel)
        cb._setup(stub)
        _create(stub, inputs[:preload])
        _counting(proc, True)
        _create(stub, inputs[preload:])
        _counting(proc, False)
        return _instructions(proc, out) / partitions


def get_table(auth: bool, calls: int) -> float:
    """Instructions per GetTable call."""
    with _counted_server(auth=auth) as (address, proc, out), cb._channel(address) as channel:
        stub = pb_grpc.CatalogServiceStub(channel)
        cb._setup(stub)
        request = pb.GetTableRequest(database_name=cb.DB, name=cb.TABLE)
        for _ in range(100):
            stub.GetTable(request, timeout=CALL_TIMEOUT_S)
        _counting(proc, True)
        for _ in range(calls):
            stub.GetTable(request, timeout=CALL_TIMEOUT_S)
        _counting(proc, False)
        return _instructions(proc, out) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preload", type=int, default=30_000)
    parser.add_argument("--partitions", type=int, default=3_000)
    parser.add_argument("--get-calls", type=int, default=500)
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install valgrind)")
    try:
        per_partition = batch_create(args.preload, args.partitions)
        on = get_table(True, args.get_calls)
        off = get_table(False, args.get_calls)
    except grpc.RpcError as exc:
        raise SystemExit(f"a call failed: {exc.code().name}: {exc.details()}") from None
    print(
        json.dumps(
            {
                "batch_create_instructions_per_partition": round(per_partition),
                "preloaded_partitions": args.preload,
                "measured_partitions": args.partitions,
                "get_table_instructions_auth_audit_on": round(on),
                "get_table_instructions_auth_audit_off": round(off),
                "audit_overhead_instructions_ratio": round(on / off, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
