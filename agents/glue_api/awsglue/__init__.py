"""awsglue: Sluice's implementation of AWS Glue's documented Python API on plain PySpark.

`from awsglue.context import GlueContext`, `from awsglue.job import Job`,
`from awsglue.utils import getResolvedOptions`, `from awsglue.transforms import *` and
`from awsglue.dynamicframe import DynamicFrame` work as in Glue scripts.

In a Sluice run Spark has started before the script: `SparkContext()` (as Glue scripts write it)
returns the run's context instead of failing because one is active.
"""

from __future__ import annotations

import sys
from typing import Any

from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection
from pyspark import cloudpickle
from pyspark.context import SparkContext

_original_init = SparkContext.__init__


def _adopting_new(cls: type[SparkContext], *args: Any, **kwargs: Any) -> SparkContext:
    active = SparkContext._active_spark_context
    if cls is SparkContext and active is not None:
        return active
    return object.__new__(cls)


def _adopting_init(self: SparkContext, *args: Any, **kwargs: Any) -> None:
    if self is SparkContext._active_spark_context and getattr(self, "_jsc", None) is not None:
        return
    _original_init(self, *args, **kwargs)


# Spark's Python workers need not have awsglue on their path: the functions of this package
# that Spark ships to them (filter, map) travel by value, as a script's own functions do.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

if not getattr(SparkContext, "_sluice_adopts_active", False):
    SparkContext.__new__ = staticmethod(_adopting_new)  # type: ignore[method-assign, assignment]
    SparkContext.__init__ = _adopting_init  # type: ignore[method-assign]
    SparkContext._sluice_adopts_active = True  # type: ignore[attr-defined]

__all__ = ["DynamicFrame", "DynamicFrameCollection"]
