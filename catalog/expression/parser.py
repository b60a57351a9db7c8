"""Parses Glue's partition expressions (GetPartitions' Expression) into a syntax tree.

Grammar, loosest binding first; keywords are case-insensitive:

    expr      := and ('OR' and)*
    and       := not ('AND' not)*
    not       := 'NOT' not | primary
    primary   := '(' expr ')' | key predicate
    predicate := op value                          op: = <> != < <= > >=
               | ['NOT'] 'IN' '(' value (',' value)* ')'
               | ['NOT'] 'BETWEEN' value 'AND' value
               | ['NOT'] 'LIKE' string
               | 'IS' ['NOT'] 'NULL'
    key       := identifier | `back-quoted name`
    value     := 'string' | integer | decimal | TRUE | FALSE
"""

from __future__ import annotations

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
    LiteralKind,
    Not,
    Or,
)
from sluice.catalog.core.expression.lexer import Token, TokenKind, syntax_error, tokenize
from sluice.common.errors import InvalidInput

MAX_EXPRESSION_LENGTH = 2048
MAX_DEPTH = 50
MAX_IN_VALUES = 1000

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "IS", "NULL", "TRUE", "FALSE"})
_LITERAL_KINDS = {
    TokenKind.STRING: LiteralKind.STRING,
    TokenKind.INTEGER: LiteralKind.INTEGER,
    TokenKind.DECIMAL: LiteralKind.DECIMAL,
}


def parse(text: str) -> Expr | None:
    """The syntax tree of a partition expression; None if it is empty or only whitespace.

    Raises:
        InvalidInput: the expression is too long, too deeply nested, has an IN list that is
            too long, or is malformed; the message gives the 1-based position and what was
            expected there.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise InvalidInput(
            f"the expression is {len(text)} characters long; "
            f"at most {MAX_EXPRESSION_LENGTH} are allowed"
        )
    if not text.strip():
        return None
    return _Parser(tokenize(text)).run()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._i = 0
        self._depth = 0

    def run(self) -> Expr:
        expr = self._or()
        token = self._peek()
        if token.kind is TokenKind.RPAREN:
            raise syntax_error(token.position, "this ')' has no matching '('")
        if token.kind is not TokenKind.END:
            raise _error(token, "expected AND, OR or the end of the expression")
        return expr

    def _peek(self) -> Token:
        return self._tokens[self._i]

    def _advance(self) -> Token:
        token = self._tokens[self._i]
        if token.kind is not TokenKind.END:
            self._i += 1
        return token

    def _enter(self, token: Token) -> None:
        # A depth bound keeps hostile input far from Python's recursion limit.
        if self._depth >= MAX_DEPTH:
            raise syntax_error(
                token.position, f"the expression is nested more than {MAX_DEPTH} levels deep"
            )
        self._depth += 1

    def _or(self) -> Expr:
        operands = [self._and()]
        while self._peek().is_keyword("OR"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Expr:
        operands = [self._not()]
        while self._peek().is_keyword("AND"):
            self._advance()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _not(self) -> Expr:
        token = self._peek()
        if not token.is_keyword("NOT"):
            return self._primary()
        self._advance()
        self._enter(token)
        operand = self._not()
        self._depth -= 1
        return Not(operand)

    def _primary(self) -> Expr:
        token = self._advance()
        if token.kind is TokenKind.LPAREN:
            self._enter(token)
            expr = self._or()
            closing = self._advance()
            if closing.kind is not TokenKind.RPAREN:
                raise _error(
                    closing,
                    f"expected AND, OR or ')' to close the '(' at position {token.position}",
                )
            self._depth -= 1
            return expr
        if token.kind is TokenKind.QUOTED_NAME or (
            token.kind is TokenKind.WORD and token.value.upper() not in KEYWORDS
        ):
            return self._predicate(KeyRef(token.value.lower(), token.position), token)
        raise _error(token, "expected a partition key, NOT or '('")

    def _predicate(self, key: KeyRef, key_token: Token) -> Expr:
        token = self._advance()
        if token.kind is TokenKind.OPERATOR:
            return Comparison(key, CompareOp(token.value), self._value(f"'{token.source}'"))
        if token.is_keyword("IS"):
            return self._is_null(key)
        negated = token.is_keyword("NOT")
        if negated:
            token = self._advance()
        if token.is_keyword("IN"):
            return self._in_list(key, negated)
        if token.is_keyword("BETWEEN"):
            return self._between(key, negated)
        if token.is_keyword("LIKE"):
            return self._like(key, negated)
        if negated:
            raise _error(token, "expected IN, BETWEEN or LIKE after NOT")
        raise _error(
            token,
            f"expected =, <>, !=, <, <=, >, >=, IN, BETWEEN, LIKE or IS after the key "
            f"{key_token.describe()}",
        )

    def _value(self, after: str) -> Literal:
        token = self._advance()
        kind = _LITERAL_KINDS.get(token.kind)
        if kind is not None:
            return Literal(token.value, kind, token.position)
        if token.is_keyword("TRUE") or token.is_keyword("FALSE"):
            return Literal(token.value.lower(), LiteralKind.BOOLEAN, token.position)
        if token.is_keyword("NULL"):
            raise _error(token, f"expected a value after {after} (test for null with IS NULL)")
        raise _error(token, f"expected a value after {after}")

    def _is_null(self, key: KeyRef) -> IsNull:
        token = self._advance()
        negated = token.is_keyword("NOT")
        if negated:
            token = self._advance()
        if not token.is_keyword("NULL"):
            raise _error(token, "expected NULL or NOT NULL after IS")
        return IsNull(key, negated)

    def _in_list(self, key: KeyRef, negated: bool) -> InList:
        opening = self._advance()
        if opening.kind is not TokenKind.LPAREN:
            raise _error(opening, "expected '(' after IN")
        values = [self._value("'('")]
        while True:
            token = self._advance()
            if token.kind is TokenKind.RPAREN:
                return InList(key, tuple(values), negated)
            if token.kind is not TokenKind.COMMA:
                raise _error(token, "expected ',' or ')' in the IN list")
            if len(values) == MAX_IN_VALUES:
                raise syntax_error(
                    self._peek().position,
                    f"an IN list may hold at most {MAX_IN_VALUES} values",
                )
            values.append(self._value("','"))

    def _between(self, key: KeyRef, negated: bool) -> Between:
        low = self._value("BETWEEN")
        token = self._advance()
        if not token.is_keyword("AND"):
            raise _error(token, "expected AND between the two bounds of BETWEEN")
        return Between(key, low, self._value("AND"), negated)

    def _like(self, key: KeyRef, negated: bool) -> Like:
        token = self._advance()
        if token.kind is not TokenKind.STRING:
            raise _error(token, "expected a quoted pattern after LIKE")
        return Like(key, Literal(token.value, LiteralKind.STRING, token.position), negated)


def _error(token: Token, expected: str) -> InvalidInput:
    return syntax_error(token.position, f"{expected}, found {token.describe()}")
