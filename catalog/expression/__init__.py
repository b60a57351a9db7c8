"""Glue's partition expression language (GetPartitions' Expression), compiled to indexed SQL."""

from .ast import Expr
from .parser import parse
from .sql import to_sql

__all__ = ["Expr", "parse", "to_sql"]
