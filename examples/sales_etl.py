"""A Glue-style Spark ETL job: sales CSV in, revenue by month and region out as partitioned
Parquet, registered in the Sluice Data Catalog.

Sluice runs it with a ready `spark` session and the job's arguments in sys.argv, as Glue does:
  --input_path   CSV files with a header: order_id,order_date,region,product,quantity,unit_price
  --output_path  where the Parquet table goes (partitioned by year and month)
  --database     catalog database to register the table in (created if missing)
  --table        table name

It reaches the catalog through the public API (the run's SLUICE_ADDRESS), never the database.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sluice.sdk import connect
from sluice.sdk.args import getResolvedOptions
from sluice.sdk.catalog import CatalogClient
from sluice.sdk.errors import AlreadyExists, EntityNotFound

# The run's environment has started Spark already: this returns its session.
spark = SparkSession.builder.getOrCreate()

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
COLUMNS = [
    {"name": "region", "type": "string"},
    {"name": "orders", "type": "bigint"},
    {"name": "units", "type": "bigint"},
    {"name": "revenue", "type": "double"},
]
PARTITION_KEYS = [{"name": "year", "type": "int"}, {"name": "month", "type": "int"}]


def storage(location: str) -> dict:
    return {
        "columns": COLUMNS,
        "location": location,
        "input_format": PARQUET_INPUT,
        "output_format": PARQUET_OUTPUT,
        "serde_info": {"serialization_library": PARQUET_SERDE},
    }


def transform(input_path: str, output_path: str) -> list[tuple[int, int]]:
    """Aggregate the CSV into output_path; the (year, month) partitions written."""
    sales = (
        spark.read.option("header", True)
        .schema(
            "order_id LONG, order_date DATE, region STRING, product STRING, "
            "quantity INT, unit_price DOUBLE"
        )
        .csv(input_path)
    )
    print(f"read {input_path}", flush=True)
    result = (
        sales.withColumn("year", F.year("order_date"))
        .withColumn("month", F.month("order_date"))
        .groupBy("year", "month", "region")
        .agg(
            F.count("order_id").alias("orders"),
            F.sum("quantity").alias("units"),
            F.round(F.sum(F.col("quantity") * F.col("unit_price")), 2).alias("revenue"),
        )
        .cache()
    )
    result.select("region", "orders", "units", "revenue", "year", "month").write.mode(
        "overwrite"
    ).partitionBy("year", "month").parquet(output_path)
    rows = result.select("year", "month").distinct().orderBy("year", "month").collect()
    total = result.agg(F.sum("orders").alias("o"), F.sum("revenue").alias("r")).collect()[0]
    print(
        f"wrote {len(rows)} partitions, {total['o']} orders, revenue {total['r']:.2f}", flush=True
    )
    return [(row["year"], row["month"]) for row in rows]


def register(database: str, table: str, location: str, partitions: list[tuple[int, int]]) -> None:
    """Create (or replace the definition of) the table and its partitions in the catalog."""
    with connect() as client:
        _register(client.catalog, database, table, location, partitions)
    print(f"registered {database}.{table} with {len(partitions)} partitions", flush=True)


def _register(
    catalog: CatalogClient,
    database: str,
    table: str,
    location: str,
    partitions: list[tuple[int, int]],
) -> None:
    with contextlib.suppress(AlreadyExists):
        catalog.create_database({"name": database, "description": "Created by sales_etl"})
    table_input = {
        "name": table,
        "description": "Revenue by month and region, written by the sales_etl job",
        "table_type": "EXTERNAL_TABLE",
        "parameters": {"classification": "parquet"},
        "storage_descriptor": storage(location),
        "partition_keys": PARTITION_KEYS,
    }
    try:
        catalog.get_table(database, table)
        catalog.update_table(database, table_input)
    except EntityNotFound:
        catalog.create_table(database, table_input)
    existing = {tuple(p.values) for p in catalog.get_partitions(database, table)}
    new = [
        {
            "values": [str(year), str(month)],
            "storage_descriptor": storage(f"{location}/year={year}/month={month}"),
        }
        for year, month in partitions
        if (str(year), str(month)) not in existing
    ]
    response = catalog.batch_create_partition(database, table, new)
    if response.errors:
        raise RuntimeError(
            f"{len(response.errors)} partitions not registered: {response.errors[0]}"
        )


def main() -> None:
    args = getResolvedOptions(
        sys.argv, ["JOB_NAME", "input_path", "output_path", "database", "table"]
    )
    output = Path(args["output_path"]).absolute().as_uri()
    partitions = transform(args["input_path"], output)
    register(args["database"], args["table"], output, partitions)


main()
