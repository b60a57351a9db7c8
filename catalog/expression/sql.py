"""Compiles a partition expression into a SQL condition on the partition slot columns.

Every predicate becomes a plain comparison of one slot column with bound parameters holding
encoded values (see catalog.partition_keys), so the database can use an index on the slot and
nothing is filtered in Python. The default partition has a NULL slot: comparing a key with
'__HIVE_DEFAULT_PARTITION__' by = or <> (or in an IN list) tests for NULL, and no ordering
comparison accepts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, String, and_, bindparam, not_, or_

from sluice.catalog.core.expression.ast import (
    And,
    Between,
    CompareOp,
    Comparison,
    Expr,
    InList,
    IsNull,
    KeyRef,
    Like,
    Literal,
    Not,
    Or,
)
from sluice.catalog.core.expression.lexer import syntax_error
from sluice.catalog.core.names import text_value
from sluice.catalog.core.partition_keys import (
    DEFAULT_PARTITION,
    KeyType,
    PartitionKey,
    encode_value,
)
from sluice.common.errors import InvalidInput

LIKE_ESCAPE = "\\"
_LIKE_KEY_TYPES = (KeyType.STRING, KeyType.OTHER)
_MAX_PATTERN_LENGTH = 2048


def to_sql(
    expr: Expr, keys: Sequence[PartitionKey], slots: Sequence[ColumnElement[Any]]
) -> ColumnElement[bool]:
    """The SQL condition that selects the partitions `expr` accepts.

    Args:
        expr: A parsed expression.
        keys: The table's partition keys, in order.
        slots: slots[i] is the column holding the encoded value of keys[i].

    Raises:
        InvalidInput: the expression names a key the table does not have, a literal does not
            fit its key's type, or LIKE is used on a key that is not a string.
        ValueError: keys and slots differ in length.
    """
    if len(keys) != len(slots):
        raise ValueError(f"{len(keys)} partition keys but {len(slots)} slot columns")
    return _Compiler(keys, slots).compile(expr)


class _Compiler:
    def __init__(self, keys: Sequence[PartitionKey], slots: Sequence[ColumnElement[Any]]) -> None:
        self._keys = keys
        self._by_name = {key.name: (key, slot) for key, slot in zip(keys, slots, strict=True)}

    def compile(self, expr: Expr) -> ColumnElement[bool]:
        match expr:
            case And(operands):
                return and_(*(self.compile(operand) for operand in operands))
            case Or(operands):
                return or_(*(self.compile(operand) for operand in operands))
            case Not(operand):
                return not_(self.compile(operand))
            case Comparison(ref, op, value):
                key, slot = self._resolve(ref)
                encoded = _encode(key, value)
                if encoded is None:
                    return _compare_default(slot, op, value)
                return _compare(slot, op, _param(encoded))
            case InList(ref, values, negated):
                key, slot = self._resolve(ref)
                encoded = [_encode(key, value) for value in values]
                listed = [value for value in encoded if value is not None]
                return _in_list(slot, listed, len(listed) < len(encoded), negated)
            case Between(ref, low, high, negated):
                key, slot = self._resolve(ref)
                between = slot.between(_param(_ordered(key, low)), _param(_ordered(key, high)))
                return not_(between) if negated else between
            case Like(ref, pattern, negated):
                key, slot = self._resolve(ref)
                text = _param(_like_pattern(key, ref, pattern))
                if negated:
                    return slot.not_like(text, escape=LIKE_ESCAPE)
                return slot.like(text, escape=LIKE_ESCAPE)
            case IsNull(ref, negated):
                _, slot = self._resolve(ref)
                return slot.is_not(None) if negated else slot.is_(None)
        raise TypeError(f"not a partition expression node: {expr!r}")

    def _resolve(self, ref: KeyRef) -> tuple[PartitionKey, ColumnElement[Any]]:
        found = self._by_name.get(ref.name)
        if found is None:
            known = ", ".join(key.name for key in self._keys)
            listing = f"the table's keys are: {known}" if known else "the table has no keys"
            raise InvalidInput(
                f"unknown partition key {ref.name!r} at position {ref.position}; {listing}"
            )
        return found


def _param(value: str) -> BindParameter[str]:
    # A plain String, not the slot's type: SQLAlchemy would otherwise cast the parameter with
    # the slot's collation ($1::VARCHAR COLLATE "C"), which PostgreSQL rejects inside BETWEEN.
    # The comparison still uses the column's collation, so the slot's index stays usable.
    return bindparam(None, value, type_=String())


def _compare(
    slot: ColumnElement[Any], op: CompareOp, value: BindParameter[str]
) -> ColumnElement[bool]:
    match op:
        case CompareOp.EQ:
            return slot == value
        case CompareOp.NE:
            return slot != value
        case CompareOp.LT:
            return slot < value
        case CompareOp.LE:
            return slot <= value
        case CompareOp.GT:
            return slot > value
        case CompareOp.GE:
            return slot >= value
    raise TypeError(f"not a comparison operator: {op!r}")


def _compare_default(
    slot: ColumnElement[Any], op: CompareOp, literal: Literal
) -> ColumnElement[bool]:
    if op is CompareOp.EQ:
        return slot.is_(None)
    if op is CompareOp.NE:
        return slot.is_not(None)
    raise syntax_error(
        literal.position,
        f"{DEFAULT_PARTITION} stands for a null value: compare it with = or <> only",
    )


def _in_list(
    slot: ColumnElement[Any], listed: list[str], with_default: bool, negated: bool
) -> ColumnElement[bool]:
    param = bindparam(None, listed, type_=String(), expanding=True)
    if negated:
        condition = slot.not_in(param)
        return and_(condition, slot.is_not(None)) if with_default else condition
    if not with_default:
        return slot.in_(param)
    return or_(slot.in_(param), slot.is_(None)) if listed else slot.is_(None)


def _encode(key: PartitionKey, literal: Literal) -> str | None:
    try:
        return encode_value(key, literal.text)
    except InvalidInput as exc:
        raise syntax_error(literal.position, exc.message) from None


def _ordered(key: PartitionKey, literal: Literal) -> str:
    encoded = _encode(key, literal)
    if encoded is None:
        raise syntax_error(
            literal.position,
            f"{DEFAULT_PARTITION} stands for a null value and has no order",
        )
    return encoded


def _like_pattern(key: PartitionKey, ref: KeyRef, pattern: Literal) -> str:
    if key.key_type not in _LIKE_KEY_TYPES:
        raise syntax_error(
            ref.position,
            f"LIKE needs a string partition key, but {key.name!r} is {key.key_type}",
        )
    try:
        text_value("the LIKE pattern", pattern.text, _MAX_PATTERN_LENGTH)
        pattern.text.encode("utf-8")
    except InvalidInput as exc:
        raise syntax_error(pattern.position, exc.message) from None
    except UnicodeEncodeError:
        raise syntax_error(pattern.position, "the LIKE pattern is not valid Unicode text") from None
    if _ends_with_escape(pattern.text):
        raise syntax_error(
            pattern.position,
            f"the LIKE pattern ends with the escape character '{LIKE_ESCAPE}'; "
            f"write '{LIKE_ESCAPE}{LIKE_ESCAPE}' to match a backslash",
        )
    return pattern.text


def _ends_with_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip(LIKE_ESCAPE))
    return trailing % 2 == 1
