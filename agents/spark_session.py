"""The RayDP Spark session of one environment, started inside its host actor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from agents import naming
from agents.config import EnvironmentSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from ray.util.placement_group import PlacementGroup

# RayDP's master actor asks for one CPU unless told otherwise; it mostly waits, and a CPU
# outside the environment's placement group would cap how many environments fit.
_MASTER_CPU_CONF = "spark.ray.raydp_spark_master.actor.resource.CPU"


def spark_configs(spec: EnvironmentSpec, working_dir: Path) -> dict[str, str]:
    """The Spark configuration of an environment: its dirs, sizes, and no UI."""
    tmp_dir = working_dir / "tmp"
    java_options = f"-Djava.io.tmpdir={tmp_dir} -XX:-UsePerfData"
    # RayDP's java agent in the driver logs to /tmp/ray/... unless told where Ray's logs are.
    driver_options = f"{java_options} -Dray.logging.dir={working_dir / 'logs'}"
    return {
        "spark.local.dir": str(working_dir / "spark-local"),
        "spark.driver.memory": f"{spec.driver_memory_mb}m",
        "spark.driver.extraJavaOptions": driver_options,
        "spark.executor.extraJavaOptions": java_options,
        "spark.ray.raydp_app_master.extraJavaOptions": java_options,
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(max(2, 2 * spec.executors * spec.executor_cores)),
        _MASTER_CPU_CONF: "0",
    }


def start_session(
    environment_id: str, spec: EnvironmentSpec, working_dir: Path, placement_group: PlacementGroup
) -> SparkSession:
    """Start the environment's Spark session with its executors in its placement group."""
    # Imported here: the launcher imports this package without needing Spark.
    import raydp

    return raydp.init_spark(
        app_name=naming.spark_app_name(environment_id),
        num_executors=spec.executors,
        executor_cores=spec.executor_cores,
        executor_memory=f"{spec.executor_memory_mb}m",
        # The object-store bridge (Spark -> Ray datasets) is not used and costs a JVM connection.
        fault_tolerant_mode=False,
        placement_group=placement_group,
        # RayDP 1.6.5 uses list positions, not these values: executor bundles come first.
        placement_group_bundle_indexes=list(range(spec.executors)),
        configs=spark_configs(spec, working_dir),
    )


def warm_up(spark: SparkSession) -> None:
    """Run the first trivial actions, so a run's first job finds executors and Python workers up."""
    spark.range(1).count()
    spark.sparkContext.parallelize([1], 1).map(lambda x: x).count()


def find_driver_pid() -> int:
    """The pid of this process's Spark driver JVM (pyspark's gateway), or 0 if there is none."""
    for child in psutil.Process().children():
        try:
            if "org.apache.spark.deploy.SparkSubmit" in " ".join(child.cmdline()):
                return child.pid
        except psutil.Error:
            continue
    return 0
