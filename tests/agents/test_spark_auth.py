"""A job script of one tuple cannot talk to another tuple's Spark driver (real Ray and RayDP).

Each environment's Spark RPC is authenticated with a secret of its own and encrypted. The attack
is what a script can do with the JVM pyspark gives it: create a Spark RpcEnv of its own and ask
the other environment's driver for its scheduler endpoint.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import psutil
import pytest
from py4j.java_gateway import GatewayParameters, JavaGateway
from py4j.protocol import Py4JError

from sluice.agents.isolation import IsolationTuple
from sluice.agents.runs import LogStream, RunRequest, RunState
from sluice.agents.supervisor import RunSupervisor
from tests.agents.helpers import wait_terminal, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

VICTIM = IsolationTuple("555555555555", "arn:aws:iam::555555555555:role/victim")
ATTACKER = IsolationTuple("666666666666", "arn:aws:iam::666666666666:role/attacker")
WARM_DEADLINE_S = 300
RUN_DEADLINE_S = 240

# Asks the driver at --host:--port for its scheduler endpoint from an RpcEnv of the script's own
# making; with --own-secret, it authenticates with its own environment's secret.
PROBE = """
import json, sys
from sluice.sdk.args import parse_arguments

args = parse_arguments(sys.argv[1:])
host = spark.conf.get("spark.driver.host") if args["host"] == "self" else args["host"]
port = spark.conf.get("spark.driver.port") if args["port"] == "self" else args["port"]
jvm = spark._jvm
conf = jvm.org.apache.spark.SparkConf(False)
conf.set("spark.rpc.askTimeout", "15s").set("spark.rpc.lookupTimeout", "15s")
secret = spark.conf.get("spark.authenticate.secret", "")
if args.get("own_secret") == "yes" and secret:
    conf.set("spark.authenticate", "true").set("spark.authenticate.secret", secret)
    conf.set("spark.network.crypto.enabled", "true")
config = getattr(jvm.org.apache.spark.internal.config, "package$").__getattr__("MODULE$")
security = jvm.org.apache.spark.SecurityManager(
    conf, jvm.scala.Option.empty(), config.AUTH_SECRET_FILE_DRIVER()
)
rpc_env = getattr(jvm.org.apache.spark.rpc, "RpcEnv$").__getattr__("MODULE$").create(
    "probe", spark.conf.get("spark.driver.host"), 0, conf, security, True
)
try:
    rpc_env.setupEndpointRef(
        jvm.org.apache.spark.rpc.RpcAddress(host, int(port)),
        "CoarseGrainedScheduler",
    )
    outcome = "REACHED"
except Exception as exc:
    outcome = "REFUSED " + str(exc).splitlines()[0][:300]
finally:
    rpc_env.shutdown()
# Jobs still run with authentication and encryption on: an action and a shuffle through them.
count = spark.range(10000).count()
groups = sorted(
    (row["k"], row["count"])
    for row in spark.range(10000).selectExpr("id % 3 AS k").groupBy("k").count().collect()
)
print("PROBE " + json.dumps({
    "outcome": outcome,
    "host": spark.conf.get("spark.driver.host"),
    "port": spark.conf.get("spark.driver.port"),
    "has_secret": bool(secret),
    "count": count,
    "groups": groups,
}), flush=True)
"""


def command_lines_holding(*secrets: str) -> list[str]:
    """The command lines of every process on the machine that hold one of the secrets."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended
            continue
        if any(secret in text for secret in secrets):
            found.append(f"{cmdline.parent.name}: {text[:200]}")
    return found


def probe(
    supervisor: RunSupervisor, run_id: str, isolation: IsolationTuple, **arguments: str
) -> dict[str, Any]:
    launch = supervisor.launch(RunRequest(run_id, PROBE, arguments=arguments), isolation)
    progress = wait_terminal(supervisor, run_id, RUN_DEADLINE_S)
    assert progress.state is RunState.SUCCEEDED, progress.error_message
    stdout = supervisor.read_log(run_id, LogStream.STDOUT).text
    line = next(line for line in stdout.splitlines() if line.startswith("PROBE "))
    result = json.loads(line[len("PROBE ") :])
    host = supervisor.environment(launch.environment_id)
    assert host is not None
    # The environment's secret, from its executors' argument file.
    options = Path(host.working_dir) / "spark-secret.jvmopts"
    result["secret"] = options.read_text().strip().partition("=")[2]
    result["cold_start_s"] = (host.ready_at or 0) - host.created_at
    return result


def test_a_script_cannot_reach_another_environments_driver(
    supervisor: RunSupervisor, agents_config
) -> None:
    wait_until(lambda: supervisor.pool_status().warm >= 1, WARM_DEADLINE_S, what="a warm env")
    # The victim probes its own driver with its own secret: the attack itself works.
    victim = probe(supervisor, "jr_victim", VICTIM, host="self", port="self", own_secret="yes")
    assert victim["outcome"] == "REACHED", victim

    attacker = probe(supervisor, "jr_attack", ATTACKER, host=victim["host"], port=victim["port"])
    assert attacker["outcome"].startswith("REFUSED"), attacker
    with_own = probe(
        supervisor,
        "jr_attack2",
        ATTACKER,
        host=victim["host"],
        port=victim["port"],
        own_secret="yes",
    )
    assert with_own["outcome"].startswith("REFUSED"), with_own

    assert victim["has_secret"] and attacker["has_secret"]
    assert victim["secret"] and attacker["secret"] and victim["secret"] != attacker["secret"]
    for who in (victim, attacker, with_own):
        assert who["count"] == 10000
        assert who["groups"] == [[0, 3334], [1, 3333], [2, 3333]]
    # No process on the machine shows either secret on its command line (readable by any
    # local user in /proc): every JVM reads it from its environment's argument file.
    assert command_lines_holding(victim["secret"], attacker["secret"]) == []
    print("cold start (s):", attacker["cold_start_s"])
    # Nothing the environments log holds the secret (their run logs and environment logs).
    for path in Path(agents_config.data_dir).rglob("*"):
        if path.is_file() and path.suffix in (".log", ".txt", ".json", ".out", ".err"):
            text = path.read_text(errors="replace")
            for who in (victim, attacker):
                assert who["secret"] not in text, f"the secret is in {path}"


def gateway_ports() -> dict[int, list[int]]:
    """RayDP's gateway JVMs on the machine (py4j's GatewayServer with --enable-auth): pid -> the
    ports each listens on."""
    found = {}
    for process in psutil.process_iter():
        try:
            cmdline = process.cmdline()
            if "py4j.GatewayServer" not in cmdline or "--enable-auth" not in cmdline:
                continue
            found[process.pid] = [
                c.laddr.port for c in process.net_connections("tcp") if c.status == "LISTEN"
            ]
        except psutil.Error:
            continue
    return found


def test_rayd_ps_gateway_jvm_answers_only_with_its_token(supervisor: RunSupervisor) -> None:
    wait_until(lambda: supervisor.pool_status().warm >= 1, WARM_DEADLINE_S, what="a warm env")
    # RayDP's own entry point (an unauthenticated py4j gateway) is no longer started.
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            assert "org.apache.spark.deploy.raydp.AppMasterEntryPoint" not in process.cmdline()
    gateways = gateway_ports()
    assert gateways and all(gateways.values()), gateways
    for ports in gateways.values():
        for port in ports:
            gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port))
            try:
                with pytest.raises(Py4JError):
                    gateway.jvm.java.lang.System.getProperty("spark.authenticate.secret")
            finally:
                gateway.close()
