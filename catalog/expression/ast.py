"""The syntax tree of a partition expression. Positions are 1-based character offsets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LiteralKind(StrEnum):
    """How a literal was written; its meaning comes from the key it is compared with."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"


class CompareOp(StrEnum):
    EQ = "="
    NE = "<>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True)
class Literal:
    """A value as written: string contents unquoted, numbers and true/false as their text."""

    text: str
    kind: LiteralKind
    position: int


@dataclass(frozen=True)
class KeyRef:
    """A partition key named in the expression, lower-cased."""

    name: str
    position: int


@dataclass(frozen=True)
class Comparison:
    key: KeyRef
    op: CompareOp
    value: Literal


@dataclass(frozen=True)
class InList:
    key: KeyRef
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class Between:
    key: KeyRef
    low: Literal
    high: Literal
    negated: bool = False


@dataclass(frozen=True)
class Like:
    """A LIKE match: '%' any run of characters, '_' one character, '\\' escapes the next."""

    key: KeyRef
    pattern: Literal
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    key: KeyRef
    negated: bool = False


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    operand: Expr


Predicate = Comparison | InList | Between | Like | IsNull
Expr = Predicate | And | Or | Not
