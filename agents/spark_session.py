"""The RayDP Spark session of one environment, started inside its host actor."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from agents import naming
from agents.config import EnvironmentSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from ray.util.placement_group import PlacementGroup

# RayDP's master actor asks for one CPU unless told otherwise; it mostly waits, and a CPU
# outside the environment's placement group would cap how many environments fit.
_MASTER_CPU_CONF = "spark.ray.raydp_spark_master.actor.resource.CPU"
_SECRET_CONF = "spark.authenticate.secret"


def new_secret() -> str:
    """A fresh random secret for one environment's Spark RPC authentication."""
    return secrets.token_urlsafe(32)


def secret_options_file(working_dir: Path) -> Path:
    """The JVM argument file (mode 0600) that gives each JVM of an environment its secret."""
    return working_dir / "spark-secret.jvmopts"


def write_secret_options(working_dir: Path, secret: str) -> None:
    """Write the JVMs' argument file of the secret, readable by this OS user only."""
    fd = os.open(secret_options_file(working_dir), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(f"-D{_SECRET_CONF}={secret}\n")


def spark_configs(spec: EnvironmentSpec, working_dir: Path) -> dict[str, str]:
    """The Spark configuration of an environment: its dirs, sizes, no UI, and RPC security.

    Every Spark RPC connection (driver, RayDP's app master, executors, block managers)
    authenticates with the environment's own secret and is encrypted, so code of another
    environment cannot talk to this one's Spark processes. The secret is not among the settings:
    pyspark and RayDP put every setting on a JVM's command line, which any local user reads in
    /proc. Each JVM reads it as a system property from the owner-only argument file in
    `working_dir` (`write_secret_options`), which Spark's configuration loads.

    Args:
        spec: the environment's size.
        working_dir: the environment's working dir.
    """
    tmp_dir = working_dir / "tmp"
    # A JVM that crashes writes its report in the environment's logs, not in the cwd.
    crash_file = working_dir / "logs" / "hs_err_pid%p.log"
    java_options = f"-Djava.io.tmpdir={tmp_dir} -XX:-UsePerfData -XX:ErrorFile={crash_file}"
    # The java launcher expands @file before the JVM starts; the command line holds the path.
    secret_option = f"@{secret_options_file(working_dir)}"
    # RayDP's java agent in the driver logs to /tmp/ray/... unless told where Ray's logs are.
    driver_options = f"{java_options} -Dray.logging.dir={working_dir / 'logs'} {secret_option}"
    return {
        "spark.local.dir": str(working_dir / "spark-local"),
        "spark.driver.memory": f"{spec.driver_memory_mb}m",
        "spark.driver.extraJavaOptions": driver_options,
        "spark.executor.extraJavaOptions": f"{java_options} {secret_option}",
        # RayDP gives these to its gateway JVM and to its app master's JVM.
        "spark.ray.raydp_app_master.extraJavaOptions": f"{java_options} {secret_option}",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(max(2, 2 * spec.executors * spec.executor_cores)),
        _MASTER_CPU_CONF: "0",
        "spark.authenticate": "true",
        "spark.network.crypto.enabled": "true",
    }


def start_session(
    environment_id: str, spec: EnvironmentSpec, working_dir: Path, placement_group: PlacementGroup
) -> SparkSession:
    """Start the environment's Spark session with its executors in its placement group."""
    # Imported here: the launcher imports this package without needing Spark.
    import raydp

    write_secret_options(working_dir, new_secret())
    spark = raydp.init_spark(
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
    align_block_transfer_app_id(spark)
    return spark


def align_block_transfer_app_id(spark: SparkSession) -> None:
    """Make the driver's block transfers authenticate as the executors' Spark application.

    With spark.authenticate, a block server lets a client read only the streams registered under
    the application id the client authenticated with. RayDP 1.6.5 gives executors the app
    master's application id ("app-<date>") while the driver keeps its own ("spark-application-
    <ms>"), so executors could not fetch broadcasts from the driver, nor the driver large results
    from executors. The driver's ids are fields set at startup, with no setting to choose them.
    """
    jvm = spark._jvm  # type: ignore[attr-defined]
    backend = spark.sparkContext._jsc.sc().schedulerBackend()  # type: ignore[attr-defined]
    app_id = _field(backend, "appId").get()
    if not app_id:
        raise RuntimeError("RayDP's application id is unknown: Spark did not register")
    transfers = jvm.org.apache.spark.SparkEnv.get().blockManager().blockTransferService()
    handler = _field(_field(transfers, "transportContext"), "rpcHandler")
    _set_field(handler, "appId", app_id)
    _set_field(transfers, "appId", app_id)
    for bootstrap in _field(_field(transfers, "clientFactory"), "clientBootstraps"):
        _set_field(bootstrap, "appId", app_id)


def _declared_field(obj: Any, name: str) -> Any:
    # Scala mangles private fields that inner classes use into "<class>$$<name>".
    cls = obj.getClass()
    while cls is not None:
        for field in cls.getDeclaredFields():
            if field.getName() == name or field.getName().endswith("$$" + name):
                field.setAccessible(True)
                return field
        cls = cls.getSuperclass()
    raise RuntimeError(f"no field {name} in {obj.getClass().getName()}")


def _field(obj: Any, name: str) -> Any:
    return _declared_field(obj, name).get(obj)


def _set_field(obj: Any, name: str, value: str) -> None:
    _declared_field(obj, name).set(obj, value)


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
