"""The Spark configuration of environments: per-environment RPC authentication and encryption."""

from __future__ import annotations

import logging
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import sluice.agents
from sluice.agents import naming, spark_session
from sluice.agents.config import EnvironmentSpec

pytestmark = pytest.mark.unit


def test_configs_turn_on_authentication_and_encryption_with_no_secret_in_them() -> None:
    configs = spark_session.spark_configs(EnvironmentSpec(), Path("/tmp/env"))
    assert configs["spark.authenticate"] == "true"
    assert configs["spark.network.crypto.enabled"] == "true"
    # pyspark and RayDP put settings on command lines: every JVM reads the secret from an
    # owner-only argument file instead.
    assert "spark.authenticate.secret" not in configs
    argument_file = f"@{spark_session.secret_options_file(Path('/tmp/env'))}"
    for key in (
        "spark.driver.extraJavaOptions",
        "spark.executor.extraJavaOptions",
        "spark.ray.raydp_app_master.extraJavaOptions",
    ):
        assert argument_file in configs[key].split(), key
    # Spark refuses -Dspark.* in executor options.
    assert "-Dspark" not in configs["spark.executor.extraJavaOptions"]


def test_every_jvm_writes_its_crash_report_in_the_environment_logs() -> None:
    configs = spark_session.spark_configs(EnvironmentSpec(), Path("/tmp/env"))
    for key in (
        "spark.driver.extraJavaOptions",
        "spark.executor.extraJavaOptions",
        "spark.ray.raydp_app_master.extraJavaOptions",
    ):
        assert "-XX:ErrorFile=/tmp/env/logs/hs_err_pid%p.log" in configs[key].split()


def test_each_session_gets_a_new_secret_that_is_never_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys, tmp_path: Path
) -> None:
    started: list[dict[str, Any]] = []
    fake_raydp = types.ModuleType("raydp")
    fake_raydp.init_spark = lambda **kwargs: started.append(kwargs) or object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "raydp", fake_raydp)
    # RayDP's master (the real one imports raydp's submodules): nothing of it runs here.
    fake_master = types.ModuleType("sluice.agents.raydp_master")
    fake_master.install = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sluice.agents.raydp_master", fake_master)
    monkeypatch.setattr(sluice.agents, "raydp_master", fake_master, raising=False)
    aligned: list[object] = []
    monkeypatch.setattr(spark_session, "align_block_transfer_app_id", aligned.append)
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []

    for environment_id in (naming.new_environment_id("a" * 8), naming.new_environment_id("b" * 8)):
        spark_session.start_session(
            environment_id, EnvironmentSpec(), tmp_path, placement_group=None
        )  # type: ignore[arg-type]

        options = spark_session.secret_options_file(tmp_path)
        assert options.stat().st_mode & 0o777 == 0o600
        assert options.stat().st_uid == os.getuid()
        line = options.read_text()
        assert line.startswith("-Dspark.authenticate.secret=") and line.endswith("\n")
        secrets.append(line.strip().partition("=")[2])
        assert secrets[-1] not in repr(started[-1])

    assert len(set(secrets)) == 2
    assert len(aligned) == 2
    assert all(len(secret) >= 40 for secret in secrets)
    captured = capsys.readouterr()
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in captured.out + captured.err


def test_jdbc_driver_jars_the_machine_has_go_on_the_driver_and_executor_classpath(
    tmp_path: Path,
) -> None:
    present = tmp_path / "postgresql.jar"
    present.write_bytes(b"PK")
    missing = tmp_path / "mysql.jar"

    configs = spark_session.classpath_configs((present, missing))

    # The driver's (RayDP appends its own jars), RayDP's executors' and Spark's own setting.
    for key in (
        "spark.driver.extraClassPath",
        "raydp.executor.extraClassPath",
        "spark.executor.extraClassPath",
    ):
        assert configs[key] == str(present), key
    assert spark_session.classpath_configs((missing,)) == {}
