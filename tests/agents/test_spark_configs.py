"""The Spark configuration of environments: per-environment RPC authentication and encryption."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from agents import naming, spark_session
from agents.config import EnvironmentSpec

pytestmark = pytest.mark.unit


def test_configs_turn_on_authentication_and_encryption_with_the_given_secret() -> None:
    configs = spark_session.spark_configs(EnvironmentSpec(), Path("/tmp/env"), "s3cr3t")
    assert configs["spark.authenticate"] == "true"
    assert configs["spark.authenticate.secret"] == "s3cr3t"
    assert configs["spark.network.crypto.enabled"] == "true"
    # Executors read it from an argument file: Spark refuses -Dspark.* in executor options.
    executor_options = configs["spark.executor.extraJavaOptions"]
    assert "s3cr3t" not in executor_options and "-Dspark" not in executor_options
    assert f"@{spark_session.secret_options_file(Path('/tmp/env'))}" in executor_options


def test_every_jvm_writes_its_crash_report_in_the_environment_logs() -> None:
    configs = spark_session.spark_configs(EnvironmentSpec(), Path("/tmp/env"), "s3cr3t")
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
    aligned: list[object] = []
    monkeypatch.setattr(spark_session, "align_block_transfer_app_id", aligned.append)
    caplog.set_level(logging.DEBUG)

    for environment_id in (naming.new_environment_id("a" * 8), naming.new_environment_id("b" * 8)):
        spark_session.start_session(
            environment_id, EnvironmentSpec(), tmp_path, placement_group=None
        )  # type: ignore[arg-type]

        options = spark_session.secret_options_file(tmp_path)
        assert options.stat().st_mode & 0o777 == 0o600
        secret = started[-1]["configs"]["spark.authenticate.secret"]
        assert options.read_text() == f"-Dspark.authenticate.secret={secret}\n"

    secrets = [kwargs["configs"]["spark.authenticate.secret"] for kwargs in started]
    assert len(set(secrets)) == 2
    assert len(aligned) == 2
    assert all(len(secret) >= 40 for secret in secrets)
    captured = capsys.readouterr()
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in captured.out + captured.err
