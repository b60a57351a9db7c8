"""The sales ETL of sales_etl.py written as an AWS Glue script, with the awsglue API.

It runs unchanged on Glue and on Sluice (Sluice ships its own awsglue on every run's path):
  --input_path   CSV files with a header: order_id,order_date,region,product,quantity,unit_price
  --output_path  where the Parquet table goes (an absolute path or URI; by year and month)
  --database     an existing catalog database (`sluice databases create sales`)
  --table        the table, created on the first run and kept up to date (enableUpdateCatalog)

With `--job-bookmark-option job-bookmark-enable` (e.g. in the job's default arguments) a run
reads only the CSV files earlier successful runs have not, and appends their aggregates.
"""

from __future__ import annotations

import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "input_path", "output_path", "database", "table"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

sales = glue_context.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["input_path"]]},
    format="csv",
    format_options={"withHeader": True},
    transformation_ctx="sales",
)
typed = ApplyMapping.apply(
    frame=sales,
    mappings=[
        ("order_id", "long", "order_id", "long"),
        ("order_date", "string", "order_date", "date"),
        ("region", "string", "region", "string"),
        ("quantity", "int", "quantity", "int"),
        ("unit_price", "double", "unit_price", "double"),
    ],
    transformation_ctx="typed",
)
print(f"read {typed.count()} orders from {args['input_path']}", flush=True)

revenue = (
    typed.toDF()
    .withColumn("year", F.year("order_date"))
    .withColumn("month", F.month("order_date"))
    .groupBy("year", "month", "region")
    .agg(
        F.count("order_id").alias("orders"),
        F.sum("quantity").alias("units"),
        F.round(F.sum(F.col("quantity") * F.col("unit_price")), 2).alias("revenue"),
    )
)

sink = glue_context.getSink(
    connection_type="s3",
    path=args["output_path"],
    enableUpdateCatalog=True,
    updateBehavior="UPDATE_IN_DATABASE",
    partitionKeys=["year", "month"],
    transformation_ctx="sink",
)
sink.setFormat("glueparquet")
sink.setCatalogInfo(catalogDatabase=args["database"], catalogTableName=args["table"])
sink.writeFrame(DynamicFrame.fromDF(revenue, glue_context, "revenue"))
print(f"wrote {args['database']}.{args['table']}", flush=True)

job.commit()
