"""awsglue.context: GlueContext, its readers and writers, sinks and sources.

The catalog is reached through the public SDK as the run's principal (SLUICE_ADDRESS and
SLUICE_TOKEN of the run's environment), never the store: from_catalog reads a table's location,
format and partitions (push_down_predicate is GetPartitions' expression), and writes register
new partitions, and with enableUpdateCatalog create or update the table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

from awsglue import choices, formats
from awsglue.bookmarks import Bookmarks, InputFile
from awsglue.dynamicframe import DynamicFrame
from pyspark.context import SparkContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType, _parse_datatype_string

# Glue's name for a partition whose key value is null.
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Source and sink connection types read from or written to as files.
FILE_CONNECTIONS = ("s3", "file", "hdfs")
# JDBC connection types, with the driver class of each (its jar must be on Spark's classpath).
JDBC_DRIVERS = {
    "postgresql": "org.postgresql.Driver",
    "mysql": "com.mysql.cj.jdbc.Driver",
    "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    "oracle": "oracle.jdbc.OracleDriver",
    "redshift": "com.amazon.redshift.jdbc42.Driver",
}


@dataclass(frozen=True)
class CatalogTable:
    """What a reader or writer needs of a catalog table."""

    database: str
    name: str
    location: str
    format: str
    columns: dict[str, str]
    partition_keys: dict[str, str]
    read_options: dict[str, str]
    storage: dict[str, Any]
    # A JDBC table's catalog connection (its location is `database.schema.table`); "" for files.
    connection: str = ""


class GlueContext:
    """Glue's entry point for DynamicFrames, over a SparkContext.

    Args:
        sparkContext: The run's SparkContext (`SparkContext.getOrCreate()`).
        catalog_client: The SDK client to reach the catalog with; by default one connected
            from the environment (SLUICE_ADDRESS, SLUICE_TOKEN) when first needed.
    """

    def __init__(
        self, sparkContext: SparkContext | None = None, catalog_client: Any = None, **options: Any
    ) -> None:
        self._sc = sparkContext or SparkContext.getOrCreate()
        self.spark_session = SparkSession.builder.getOrCreate()
        self._client = catalog_client
        self._owns_client = catalog_client is None
        self.bookmarks = Bookmarks()
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self.create_data_frame = DataFrameReader(self)

    @property
    def sparkSession(self) -> SparkSession:
        return self.spark_session

    # The catalog, through the SDK

    @property
    def client(self) -> Any:
        """The SDK client of the run (connected on first use)."""
        if self._client is None:
            from sluice.sdk import connect

            self._client = connect()
        return self._client

    def close(self) -> None:
        """Closes the SDK client this context opened, if any."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def catalog_table(
        self, database: str, table_name: str, catalog_id: str | None = None
    ) -> CatalogTable:
        table = self.client.catalog.get_table(database, table_name, catalog_id=catalog_id)
        sd = table.storage_descriptor
        parameters = dict(table.parameters)
        classification = parameters.get("classification", "").lower()
        if parameters.get("connectionName") and classification not in formats.FORMATS:
            # A database table, as a JDBC crawler catalogs it (Glue's shape).
            return CatalogTable(
                database=database,
                name=table_name,
                location=sd.location,
                format=classification or "jdbc",
                columns={c.name: c.type for c in sd.columns},
                partition_keys={},
                read_options={},
                storage={},
                connection=parameters["connectionName"],
            )
        fmt = formats.format_of_table(
            parameters, sd.input_format, sd.serde_info.serialization_library
        )
        return CatalogTable(
            database=database,
            name=table_name,
            location=sd.location,
            format=fmt,
            columns={c.name: c.type for c in sd.columns},
            partition_keys={k.name: k.type for k in table.partition_keys},
            read_options=formats.table_read_options(
                fmt, dict(table.parameters), dict(sd.serde_info.parameters)
            ),
            storage=formats.storage_descriptor(
                fmt, sd.location, [{"name": c.name, "type": c.type} for c in sd.columns]
            ),
        )

    def catalog_columns(
        self, database: str, table_name: str, catalog_id: str | None = None
    ) -> dict[str, str]:
        """A table's columns and partition keys with their types (for match_catalog)."""
        table = self.catalog_table(database, table_name, catalog_id)
        return {**table.columns, **table.partition_keys}

    # Reading

    def list_files(self, path: str) -> list[InputFile]:
        """The data files under path (recursively; names starting with _ or . are not data)."""
        jvm = self._sc._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        fs = hadoop_path.getFileSystem(self._sc._jsc.hadoopConfiguration())
        if not fs.exists(hadoop_path):
            return []
        found: list[InputFile] = []
        listing = fs.listFiles(hadoop_path, True)
        while listing.hasNext():
            status = listing.next()
            file_path = status.getPath()
            relative = file_path.toUri().getPath()[len(hadoop_path.toUri().getPath()) :]
            if any(part.startswith(("_", ".")) for part in relative.split("/") if part):
                continue
            found.append(InputFile(file_path.toString(), int(status.getModificationTime())))
        return sorted(found, key=lambda f: f.path)

    def read_files(
        self,
        paths: Sequence[str],
        fmt: str,
        options: Mapping[str, str],
        transformation_ctx: str,
        schema: StructType | None = None,
    ) -> DataFrame:
        """The data of the files under paths a run should read (bookmarks applied)."""
        reader = self.spark_session.read.format(formats.spark_format(fmt)).options(**options)
        if schema is not None:
            reader = reader.schema(schema)
        if not self.bookmarks.active or not transformation_ctx:
            return self._with_choices(reader.load(list(paths)), fmt, list(paths), options, schema)
        files: list[InputFile] = []
        for path in paths:
            files.extend(self.list_files(path))
        new = self.bookmarks.unprocessed(transformation_ctx, files)
        if new:
            options = dict(options)
            if len(paths) == 1:
                # Partition columns of a k=v layout are still discovered from the paths.
                options["basePath"] = paths[0]
            loaded = reader.options(**options).load([f.path for f in new])
            return self._with_choices(loaded, fmt, [f.path for f in new], options, schema)
        if schema is None:
            schema = reader.load(list(paths)).schema if files else StructType([])
        return self.spark_session.createDataFrame([], schema)

    def _with_choices(
        self,
        df: DataFrame,
        fmt: str,
        paths: Sequence[str],
        options: Mapping[str, str],
        schema: StructType | None,
    ) -> DataFrame:
        """JSON or CSV read without a given schema: fields of mixed types become choice
        columns."""
        if schema is not None:
            return df
        if fmt == "csv" and options.get("inferSchema") == "true":
            return choices.csv_with_choices(df)
        if fmt != "json":
            return df
        return choices.json_with_choices(self.spark_session, df, paths, dict(options))

    def read_catalog(
        self,
        database: str,
        table_name: str,
        push_down_predicate: str = "",
        transformation_ctx: str = "",
        catalog_id: str | None = None,
        additional_options: Mapping[str, Any] | None = None,
    ) -> DataFrame:
        table = self.catalog_table(database, table_name, catalog_id)
        if table.connection:
            return self.read_jdbc(
                "jdbc",
                self.jdbc_table_options(table, additional_options or {}, catalog_id),
                transformation_ctx,
            )
        options = {
            **table.read_options,
            **formats.read_options(table.format, additional_options or {}),
        }
        options.pop("inferSchema", None)
        data_schema = _schema(table.columns)
        schema = data_schema if table.format in ("csv", "json") else None
        if not table.partition_keys:
            return self.read_files(
                [table.location], table.format, options, transformation_ctx, schema
            )
        predicate = push_down_predicate or (additional_options or {}).get(
            "catalogPartitionPredicate", ""
        )
        partitions = list(
            self.client.catalog.get_partitions(
                database, table_name, predicate, catalog_id=catalog_id
            )
        )
        frames = []
        for partition in partitions:
            location = partition.storage_descriptor.location or _partition_location(
                table.location, table.partition_keys, partition.values
            )
            df = self.read_files([location], table.format, options, transformation_ctx, schema)
            if schema is None and not df.columns:
                continue
            for (key, key_type), value in zip(
                table.partition_keys.items(), partition.values, strict=False
            ):
                literal = None if value == NULL_PARTITION else value
                df = df.drop(key).withColumn(key, F.lit(literal).cast(key_type))
            frames.append(df)
        if not frames:
            full = StructType([*data_schema.fields, *_schema(table.partition_keys).fields])
            return self.spark_session.createDataFrame([], full)
        return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)

    def read_options_source(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any],
        fmt: str | None,
        format_options: Mapping[str, Any],
        transformation_ctx: str,
    ) -> DataFrame:
        if connection_type in (*JDBC_DRIVERS, "jdbc"):
            return self.read_jdbc(connection_type, connection_options, transformation_ctx)
        if connection_type not in FILE_CONNECTIONS:
            raise ValueError(
                f"connection_type {connection_type!r} is not supported here; use one of "
                + ", ".join([*FILE_CONNECTIONS, *JDBC_DRIVERS, "jdbc"])
            )
        paths = connection_options.get("paths") or connection_options.get("path")
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError("connection_options needs paths")
        checked = formats.checked_format(fmt)
        options = formats.read_options(checked, format_options)
        return self.read_files(list(paths), checked, options, transformation_ctx)

    # JDBC

    def extract_jdbc_conf(
        self, connection_name: str, catalog_id: str | None = None
    ) -> dict[str, str]:
        """A catalog JDBC connection's settings, its password included, as Glue gives them:
        url (without the database), fullUrl, user, password, vendor.

        Raises:
            PermissionError: The run's role may not read the connection's secret
                (sluice:ReadSecrets): the server left the password out.
        """
        connection = self.client.catalog.get_connection(
            connection_name, hide_password=False, catalog_id=catalog_id
        )
        properties = dict(connection.connection_properties)
        full_url = properties.get("JDBC_CONNECTION_URL", "")
        if not full_url.startswith("jdbc:"):
            raise ValueError(f"connection {connection_name} has no JDBC_CONNECTION_URL")
        if "PASSWORD" not in properties:
            raise PermissionError(
                f"the password of connection {connection_name} was withheld: the run's role "
                "may not read its secrets (sluice:ReadSecrets)"
            )
        vendor = full_url.split(":")[1]
        scheme, _, rest = full_url.partition("://")
        host, _, _database = rest.partition("/")
        return {
            "url": f"{scheme}://{host}",
            "fullUrl": full_url,
            "user": properties.get("USERNAME", ""),
            "password": properties["PASSWORD"],
            "vendor": vendor,
            "enforceSSL": properties.get("JDBC_ENFORCE_SSL", "false"),
        }

    def jdbc_table_options(
        self,
        table: CatalogTable,
        additional_options: Mapping[str, Any],
        catalog_id: str | None = None,
    ) -> dict[str, Any]:
        """connection_options for a JDBC catalog table: its connection's url (with the database
        its location names), user and password, and dbtable (`schema.table`), with the script's
        additional_options (jobBookmarkKeys, ...)."""
        conf = self.extract_jdbc_conf(table.connection, catalog_id)
        database, _, dbtable = table.location.partition(".")
        if dbtable:
            url = f"{conf['url']}/{database}"
        else:
            url, dbtable = conf["fullUrl"], table.location
        return {
            **additional_options,
            "url": url,
            "user": conf["user"],
            "password": conf["password"],
            "dbtable": dbtable,
        }

    def _jdbc_settings(self, connection_type: str, options: Mapping[str, Any]) -> dict[str, str]:
        """url, user, password and driver of a JDBC source or sink's connection_options
        (from the catalog connection they name with useConnectionProperties)."""
        settings: dict[str, str] = {}
        if _true(options.get("useConnectionProperties")) and options.get("connectionName"):
            conf = self.extract_jdbc_conf(options["connectionName"], options.get("catalogId"))
            settings = {"url": conf["fullUrl"], "user": conf["user"], "password": conf["password"]}
        for key in ("url", "user", "password"):
            if options.get(key):
                settings[key] = str(options[key])
        if not settings.get("url"):
            raise ValueError(
                "a JDBC source needs url (or useConnectionProperties and connectionName)"
            )
        vendor = settings["url"].split(":")[1] if connection_type == "jdbc" else connection_type
        if vendor in JDBC_DRIVERS:
            settings["driver"] = JDBC_DRIVERS[vendor]
        return settings

    def read_jdbc(
        self, connection_type: str, options: Mapping[str, Any], transformation_ctx: str
    ) -> DataFrame:
        """A JDBC table (dbtable); with bookmarks and jobBookmarkKeys, only rows whose keys
        come after the largest ones earlier runs read (ascending order, as Glue's default)."""
        dbtable = options.get("dbtable")
        if not dbtable:
            raise ValueError("a JDBC source needs dbtable")
        reader = self.spark_session.read.format("jdbc").option("dbtable", str(dbtable))
        df = reader.options(**self._jdbc_settings(connection_type, options)).load()
        keys = list(options.get("jobBookmarkKeys") or [])
        if not keys or not self.bookmarks.active or not transformation_ctx:
            return df
        if str(options.get("jobBookmarkKeysSortOrder", "asc")).lower() != "asc":
            raise ValueError("jobBookmarkKeysSortOrder must be asc here")
        last = self.bookmarks.last_keys(transformation_ctx)
        if last:
            df = df.where(_after(keys, last))
        newest = df.orderBy(*[F.col(k).desc() for k in keys]).select(*keys).first()
        if newest is not None:
            self.bookmarks.record_keys(transformation_ctx, newest.asDict())
        return df

    def write_jdbc(
        self, frame: DynamicFrame, connection_type: str, options: Mapping[str, Any]
    ) -> None:
        dbtable = options.get("dbtable")
        if not dbtable:
            raise ValueError("a JDBC sink needs dbtable")
        writer = frame.toDF().write.format("jdbc").mode("append").option("dbtable", str(dbtable))
        writer.options(**self._jdbc_settings(connection_type, options)).save()

    # Writing

    def write_files(
        self,
        frame: DynamicFrame,
        path: str,
        fmt: str,
        partition_keys: Sequence[str],
        format_options: Mapping[str, Any],
        *,
        partitions: bool = False,
    ) -> list[list[str]]:
        """Appends the frame's records as files under path (as Glue does); with partitions,
        returns the values of each partition written (for the catalog)."""
        df = frame.toDF()
        partitions = partitions and bool(partition_keys)
        if partitions:
            # Kept from the write for the partition values: the frame is computed once.
            df = df.persist()
        try:
            writer = df.write.mode("append").format(formats.spark_format(fmt))
            writer = writer.options(**formats.write_options(fmt, format_options))
            if partition_keys:
                writer = writer.partitionBy(*partition_keys)
            writer.save(path)
            if not partitions:
                return []
            keys = [F.col(k).cast("string") for k in partition_keys]
            rows = df.select(*keys).distinct().collect()
        finally:
            if partitions:
                df.unpersist()
        return [[NULL_PARTITION if v is None else v for v in row] for row in rows]

    def register_partitions(
        self, table: CatalogTable, values: Sequence[Sequence[str]], catalog_id: str | None = None
    ) -> int:
        """Adds the partitions the catalog lacks; returns how many were added."""
        if not values or not table.partition_keys:
            return 0
        existing = {
            tuple(p.values)
            for p in self.client.catalog.get_partitions(
                table.database, table.name, catalog_id=catalog_id
            )
        }
        new = [
            {
                "values": list(v),
                "storage_descriptor": {
                    **table.storage,
                    "location": _partition_location(table.location, table.partition_keys, v),
                },
            }
            for v in values
            if tuple(v) not in existing
        ]
        if not new:
            return 0
        response = self.client.catalog.batch_create_partition(
            table.database, table.name, new, catalog_id=catalog_id
        )
        failed = [
            e for e in response.errors if e.error_detail.error_code != "AlreadyExistsException"
        ]
        if failed:
            raise RuntimeError(f"{len(failed)} partitions not registered: {failed[0]}")
        return len(new) - len(response.errors)

    def ensure_table(
        self,
        database: str,
        table_name: str,
        frame: DynamicFrame,
        path: str,
        fmt: str,
        partition_keys: Sequence[str],
        update_schema: bool,
        catalog_id: str | None = None,
    ) -> CatalogTable:
        """The sink's catalog table: created from the frame's schema if missing, its columns
        updated to the frame's when update_schema (enableUpdateCatalog, UPDATE_IN_DATABASE)."""
        from sluice.sdk.errors import EntityNotFound

        types = {f.name: f.dataType.simpleString() for f in frame.toDF().schema.fields}
        columns = [{"name": n, "type": t} for n, t in types.items() if n not in partition_keys]
        table_input = {
            "name": table_name,
            "table_type": "EXTERNAL_TABLE",
            "parameters": {"classification": fmt},
            "storage_descriptor": formats.storage_descriptor(fmt, path, columns),
            "partition_keys": [{"name": k, "type": types.get(k, "string")} for k in partition_keys],
        }
        try:
            current = self.catalog_table(database, table_name, catalog_id)
        except EntityNotFound:
            self.client.catalog.create_table(database, table_input, catalog_id=catalog_id)
            return self.catalog_table(database, table_name, catalog_id)
        wanted = {c["name"]: c["type"] for c in columns}
        if update_schema and current.columns != wanted:
            table_input["storage_descriptor"]["location"] = current.location or path
            self.client.catalog.update_table(database, table_input, catalog_id=catalog_id)
            return self.catalog_table(database, table_name, catalog_id)
        return current

    # Glue's other entry points

    def getSink(
        self,
        connection_type: str = "s3",
        format: str | None = None,
        transformation_ctx: str = "",
        **options: Any,
    ) -> DataSink:
        return DataSink(self, connection_type, options, transformation_ctx, format)

    def getSource(
        self,
        connection_type: str,
        format: str | None = None,
        transformation_ctx: str = "",
        **options: Any,
    ) -> DataSource:
        return DataSource(self, connection_type, options, transformation_ctx, format)

    def create_dynamic_frame_from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.create_dynamic_frame.from_catalog(*args, **kwargs)

    def create_dynamic_frame_from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.create_dynamic_frame.from_options(*args, **kwargs)

    def write_dynamic_frame_from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.write_dynamic_frame.from_options(*args, **kwargs)

    def write_dynamic_frame_from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.write_dynamic_frame.from_catalog(*args, **kwargs)

    def purge_table(
        self,
        database: str,
        table_name: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        catalog_id: str | None = None,
    ) -> None:
        """Deletes the files of the table (of the partitions options["partitionPredicate"]
        selects, when given); the catalog entries stay, as in Glue."""
        table = self.catalog_table(database, table_name, catalog_id)
        predicate = (options or {}).get("partitionPredicate", "")
        if table.partition_keys and predicate:
            locations = [
                p.storage_descriptor.location
                or _partition_location(table.location, table.partition_keys, p.values)
                for p in self.client.catalog.get_partitions(
                    database, table_name, predicate, catalog_id=catalog_id
                )
            ]
        else:
            locations = [table.location]
        jvm = self._sc._jvm
        conf = self._sc._jsc.hadoopConfiguration()
        for location in locations:
            for file in self.list_files(location):
                path = jvm.org.apache.hadoop.fs.Path(file.path)
                path.getFileSystem(conf).delete(path, False)

    def get_logger(self) -> logging.Logger:
        return logging.getLogger("awsglue")

    def __repr__(self) -> str:
        return f"GlueContext(app={self._sc.appName!r})"


class DynamicFrameReader:
    """`glue_context.create_dynamic_frame`."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._ctx = glue_context

    def from_catalog(
        self,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        name_space: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        database = database or name_space
        if not database or not table_name:
            raise ValueError("from_catalog needs database and table_name")
        df = self._ctx.read_catalog(
            database,
            table_name,
            push_down_predicate,
            transformation_ctx,
            catalog_id,
            additional_options,
        )
        return DynamicFrame(df, self._ctx, transformation_ctx or table_name)

    def from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        df = self._ctx.read_options_source(
            connection_type,
            connection_options or {},
            format,
            format_options or {},
            transformation_ctx,
        )
        return DynamicFrame(df, self._ctx, transformation_ctx)

    def from_rdd(
        self,
        data: Any,
        name: str,
        schema: Any = None,
        sample_ratio: float | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        df = self._ctx.spark_session.createDataFrame(data, schema, samplingRatio=sample_ratio)
        return DynamicFrame(df, self._ctx, name)


class DataFrameReader:
    """`glue_context.create_data_frame`: the same sources, as DataFrames."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._frames = DynamicFrameReader(glue_context)

    def from_catalog(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self._frames.from_catalog(*args, **kwargs).toDF()

    def from_options(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self._frames.from_options(*args, **kwargs).toDF()


class DynamicFrameWriter:
    """`glue_context.write_dynamic_frame`."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._ctx = glue_context

    def from_options(
        self,
        frame: DynamicFrame,
        connection_type: str = "s3",
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        options = dict(connection_options or {})
        if connection_type in (*JDBC_DRIVERS, "jdbc"):
            self._ctx.write_jdbc(frame, connection_type, options)
            return frame
        sink = self._ctx.getSink(connection_type, format or "json", transformation_ctx, **options)
        sink.setFormat(format or "json", **(format_options or {}))
        return sink.writeFrame(frame)

    def from_catalog(
        self,
        frame: DynamicFrame,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        name_space: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        """Appends the frame to the table's location in its format; partitions the catalog
        lacks are added (partitionKeys: the table's unless additional_options name them). A JDBC
        table's rows are appended to the database table through its catalog connection."""
        database = database or name_space
        if not database or not table_name:
            raise ValueError("from_catalog needs database and table_name")
        options = dict(additional_options or {})
        table = self._ctx.catalog_table(database, table_name, catalog_id)
        if table.connection:
            self._ctx.write_jdbc(
                frame, "jdbc", self._ctx.jdbc_table_options(table, options, catalog_id)
            )
            return frame
        keys = list(options.get("partitionKeys") or table.partition_keys)
        values = self._ctx.write_files(
            frame, table.location, table.format, keys, options, partitions=True
        )
        self._ctx.register_partitions(table, values, catalog_id)
        return frame

    def from_jdbc_conf(
        self,
        frame: DynamicFrame,
        catalog_connection: str,
        connection_options: Mapping[str, Any] | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        catalog_id: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        """Appends the frame to a table (dbtable; in database, else the connection's) through the
        catalog JDBC connection catalog_connection."""
        options = dict(connection_options or {})
        conf = self._ctx.extract_jdbc_conf(catalog_connection, catalog_id)
        database = options.pop("database", "")
        options.update(
            url=f"{conf['url']}/{database}" if database else conf["fullUrl"],
            user=conf["user"],
            password=conf["password"],
        )
        self._ctx.write_jdbc(frame, conf["vendor"], options)
        return frame


class DataSink:
    """A sink (getSink): files at a path, optionally kept in the catalog (setCatalogInfo with
    enableUpdateCatalog: the table is created or its schema updated, new partitions added)."""

    def __init__(
        self,
        ctx: GlueContext,
        connection_type: str,
        options: Mapping[str, Any],
        transformation_ctx: str,
        fmt: str | None,
    ) -> None:
        if connection_type not in FILE_CONNECTIONS:
            raise ValueError(f"sink connection_type {connection_type!r} is not supported here")
        self._ctx = ctx
        self._options = dict(options)
        self._format = fmt or "json"
        self._format_options: dict[str, Any] = {}
        self._database = ""
        self._table = ""
        self._catalog_id: str | None = None

    def setFormat(self, format: str, **options: Any) -> None:
        self._format = formats.checked_format(format if format != "glueparquet" else "parquet")
        self._format_options = dict(options)

    def setCatalogInfo(
        self, catalogDatabase: str, catalogTableName: str, catalogId: str | None = None
    ) -> None:
        self._database = catalogDatabase
        self._table = catalogTableName
        self._catalog_id = catalogId

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:
        path = self._options.get("path", "")
        if not path:
            raise ValueError("the sink needs a path")
        fmt = formats.checked_format(self._format if self._format != "glueparquet" else "parquet")
        keys = list(self._options.get("partitionKeys") or [])
        in_catalog = bool(self._database and self._table)
        in_catalog = in_catalog and _true(self._options.get("enableUpdateCatalog"))
        values = self._ctx.write_files(
            dynamic_frame, path, fmt, keys, self._format_options, partitions=in_catalog
        )
        if in_catalog:
            update = (
                self._options.get("updateBehavior", "UPDATE_IN_DATABASE") == "UPDATE_IN_DATABASE"
            )
            table = self._ctx.ensure_table(
                self._database,
                self._table,
                dynamic_frame,
                path,
                fmt,
                keys,
                update,
                self._catalog_id,
            )
            self._ctx.register_partitions(table, values, self._catalog_id)
        return dynamic_frame

    def write(self, dynamic_frame: DynamicFrame) -> DynamicFrame:
        return self.writeFrame(dynamic_frame)


class DataSource:
    """A source (getSource): files at paths in a format; getFrame reads them."""

    def __init__(
        self,
        ctx: GlueContext,
        connection_type: str,
        options: Mapping[str, Any],
        transformation_ctx: str,
        fmt: str | None,
    ) -> None:
        self._ctx = ctx
        self._connection_type = connection_type
        self._options = dict(options)
        self._ctx_name = transformation_ctx
        self._format = fmt
        self._format_options: dict[str, Any] = {}

    def setFormat(self, format: str, **options: Any) -> None:
        self._format = format
        self._format_options = dict(options)

    def getFrame(self, **_: Any) -> DynamicFrame:
        return self._ctx.create_dynamic_frame.from_options(
            self._connection_type, self._options, self._format, self._format_options, self._ctx_name
        )


def _after(keys: Sequence[str], last: Mapping[str, Any]) -> Column:
    """Rows whose keys come after last's, in the keys' lexicographic order."""
    condition = F.lit(False)
    for i, key in enumerate(keys):
        clause = F.col(key) > F.lit(last[key])
        for earlier in keys[:i]:
            clause = clause & (F.col(earlier) == F.lit(last[earlier]))
        condition = condition | clause
    return condition


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _schema(columns: Mapping[str, str]) -> StructType:
    return StructType(
        [
            StructField(name, _parse_datatype_string(type_name), True)
            for name, type_name in columns.items()
        ]
    )


def _partition_location(location: str, keys: Mapping[str, str], values: Sequence[str]) -> str:
    parts = [f"{key}={value}" for key, value in zip(keys, values, strict=False)]
    return "/".join([location.rstrip("/"), *parts])


__all__ = ["DataSink", "DataSource", "GlueContext"]
