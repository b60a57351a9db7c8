"""The RayDP Spark session of one environment, started inside its host actor."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from sluice.agents import naming
from sluice.agents.config import EnvironmentSpec
from sluice.agents.ports import spark_ports

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from ray.util.placement_group import PlacementGroup

# RayDP's master actor asks for one CPU unless told otherwise; it mostly waits, and a CPU
# outside the environment's placement group would cap how many environments fit.
_MASTER_CPU_CONF = "spark.ray.raydp_spark_master.actor.resource.CPU"
_SECRET_CONF = "spark.authenticate.secret"
# JDBC drivers every environment's Spark gets when this machine has them, for Glue scripts' JDBC
# sources and sinks: Debian's libpostgresql-jdbc-java (scripts/system_packages.sh installs it).
JDBC_DRIVER_JARS: tuple[Path, ...] = (Path("/usr/share/java/postgresql.jar"),)


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


def port_configs(ports: tuple[int, int] | None) -> dict[str, str]:
    """Spark's listening ports within the sandbox's Spark ports (first, last): the driver's RPC
    and block manager and the executors' block managers each take the first free port from the
    first one, and give up rather than leave the range (None: Spark's own choice)."""
    if ports is None:
        return {}
    first, last = ports
    return {
        "spark.driver.port": str(first),
        "spark.driver.blockManager.port": str(first),
        "spark.blockManager.port": str(first),
        "spark.port.maxRetries": str(last - first),
    }


def classpath_configs(jars: tuple[Path, ...] = JDBC_DRIVER_JARS) -> dict[str, str]:
    """The driver's and the executors' extra classpath: those of jars this machine has (RayDP
    appends its own jars to the driver's; its executors take `raydp.executor.extraClassPath`)."""
    present = [str(jar) for jar in jars if jar.is_file()]
    if not present:
        return {}
    classpath = os.pathsep.join(present)
    return {
        "spark.driver.extraClassPath": classpath,
        "spark.executor.extraClassPath": classpath,
        "raydp.executor.extraClassPath": classpath,
    }


# Every JVM of an environment (driver, RayDP's gateway and app master, executors) sits idle in
# the warm pool most of its life, one set per environment: sized for that. The serial collector
# (G1's remembered sets and threads cost tens of MB a JVM; an environment's heaps are 512 MB), a
# heap that starts small and is given back after a collection (the default starts at 1/64 of
# the machine's memory, all of it touched by the time the first collection runs), and two JIT
# compiler threads. The heap's maximum stays spark.*.memory.
JVM_MEMORY_OPTIONS = (
    "-XX:+UseSerialGC -Xms16m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:CICompilerCount=2"
)


def spark_configs(spec: EnvironmentSpec, working_dir: Path) -> dict[str, str]:
    """The Spark configuration of an environment: its dirs, sizes, no UI, RPC security, and
    the JDBC drivers this machine has on its classpath.

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
    java_options = (
        f"-Djava.io.tmpdir={tmp_dir} -XX:-UsePerfData -XX:ErrorFile={crash_file} "
        f"{JVM_MEMORY_OPTIONS}"
    )
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
        **port_configs(spark_ports()),
        **classpath_configs(),
    }


def hive_configs(working_dir: Path, metastore_uri: str, warehouse: Path) -> dict[str, str]:
    """Spark SQL's catalog is the Sluice catalog, through the environment's metastore door.

    Hive support makes Spark's HiveExternalCatalog resolve databases and tables with the Hive
    client PySpark bundles, which talks to `metastore_uri` (the door in the host process); the
    Hive client's scratch dirs and the warehouse of databases without a location are the
    environment's own, not /tmp/hive shared by every OS user.
    """
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": metastore_uri,
        "spark.sql.warehouse.dir": warehouse.as_uri(),
        "spark.hadoop.hive.exec.scratchdir": str(working_dir / "tmp" / "hive"),
        "spark.hadoop.hive.exec.local.scratchdir": str(working_dir / "tmp" / "hive-local"),
        "spark.hadoop.hive.downloaded.resources.dir": str(working_dir / "tmp" / "hive-resources"),
    }


def start_session(
    environment_id: str,
    spec: EnvironmentSpec,
    working_dir: Path,
    placement_group: PlacementGroup,
    metastore_uri: str = "",
    warehouse: Path | None = None,
) -> SparkSession:
    """Start the environment's Spark session with its executors in its placement group.

    With `metastore_uri`, Spark SQL resolves tables through that Hive metastore (`hive_configs`),
    managed tables of databases without a location going to `warehouse`.
    """
    # Imported here: the launcher imports this package without needing Spark.
    import raydp

    from sluice.agents import raydp_master

    # RayDP's master JVM with an authenticated gateway in the sandbox's ports.
    raydp_master.install()
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
        configs={
            **spark_configs(spec, working_dir),
            **(
                hive_configs(working_dir, metastore_uri, warehouse or working_dir / "warehouse")
                if metastore_uri
                else {}
            ),
        },
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


def connect_catalog(spark: SparkSession) -> None:
    """Start the session's Hive client (and its connection to the metastore) now, before any
    run, so that no run waits for it; a no-op without Hive support."""
    if spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive":
        spark._jsparkSession.sharedState().externalCatalog()  # type: ignore[attr-defined]


def find_driver_pid() -> int:
    """The pid of this process's Spark driver JVM (pyspark's gateway), or 0 if there is none."""
    for child in psutil.Process().children():
        try:
            if "org.apache.spark.deploy.SparkSubmit" in " ".join(child.cmdline()):
                return child.pid
        except psutil.Error:
            continue
    return 0
