"""Glue's partition expression language (GetPartitions' Expression), compiled to indexed SQL."""

from sluice.catalog.core.expression.ast import Expr
from sluice.catalog.core.expression.parser import parse
from sluice.catalog.core.expression.sql import to_sql

__all__ = ["Expr", "parse", "to_sql"]
