"""What Sluice's awsglue costs over plain DataFrames: the same ETL (CSV in, typed, aggregated,
partitioned Parquet out) written with DynamicFrames and with DataFrames, on one local Spark.

    .venv/bin/python benchmarks/awsglue_overhead.py [--rows 200000] [--repeat 3]

Prints one JSON line: the median seconds of each and glue_script_overhead_ratio (DynamicFrames
over DataFrames; target <= 1.15). Both are warmed up first, then run in turn, each first every
other time, so that a busy machine slows both alike; on a shared machine run it several times.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sluice.agents.glue_api import PATH

sys.path.insert(0, PATH)

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.transforms import ApplyMapping

MAPPINGS = [
    ("order_id", "long", "order_id", "long"),
    ("order_date", "string", "order_date", "date"),
    ("region", "string", "region", "string"),
    ("quantity", "int", "quantity", "int"),
    ("unit_price", "double", "unit_price", "double"),
]


def _orders(path: Path, rows: int) -> None:
    regions = ["eu", "us", "apac", "latam"]
    rng = random.Random(7)
    with path.open("w") as out:
        out.write("order_id,order_date,region,product,quantity,unit_price\n")
        for i in range(rows):
            day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            out.write(f"{i},{day},{rng.choice(regions)},p{i % 50},{rng.randint(1, 9)},1.5\n")


def _aggregate(df: DataFrame) -> DataFrame:
    return (
        df.withColumn("year", F.year("order_date"))
        .withColumn("month", F.month("order_date"))
        .groupBy("year", "month", "region")
        .agg(F.count("order_id").alias("orders"), F.sum("quantity").alias("units"))
    )


def with_dataframes(spark: SparkSession, source: Path, out: Path) -> None:
    raw = spark.read.option("header", True).option("inferSchema", True).csv(str(source))
    typed = raw.select(*[F.col(s).cast(t).alias(d) for s, _, d, t in MAPPINGS])
    _aggregate(typed).write.mode("append").partitionBy("year", "month").parquet(str(out))


def with_dynamic_frames(glue: GlueContext, source: Path, out: Path) -> None:
    raw = glue.create_dynamic_frame.from_options(
        "s3", {"paths": [str(source)]}, "csv", {"withHeader": True}
    )
    typed = ApplyMapping.apply(frame=raw, mappings=MAPPINGS)
    result = DynamicFrame.fromDF(_aggregate(typed.toDF()), glue, "result")
    glue.write_dynamic_frame.from_options(
        frame=result,
        connection_type="s3",
        connection_options={"path": str(out), "partitionKeys": ["year", "month"]},
        format="parquet",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sluice-awsglue-bench-"))
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    try:
        source = work / "orders.csv"
        _orders(source, args.rows)
        glue = GlueContext(spark.sparkContext)
        with_dataframes(spark, source, work / "warmup-dataframes")
        with_dynamic_frames(glue, source, work / "warmup-dynamic-frames")
        times: dict[str, list[float]] = {"dataframes": [], "dynamic_frames": []}
        for i in range(args.repeat):
            # Each goes first every other time, so neither gains from running second.
            for name in sorted(times, reverse=bool(i % 2)):
                out = work / f"{name}-{i}"
                start = time.perf_counter()
                if name == "dataframes":
                    with_dataframes(spark, source, out)
                else:
                    with_dynamic_frames(glue, source, out)
                times[name].append(time.perf_counter() - start)
        plain = statistics.median(times["dataframes"])
        dynamic = statistics.median(times["dynamic_frames"])
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "dataframes_s": round(plain, 3),
                    "dynamic_frames_s": round(dynamic, 3),
                    "glue_script_overhead_ratio": round(dynamic / plain, 3),
                }
            )
        )
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
