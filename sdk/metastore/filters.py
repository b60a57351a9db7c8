"""Hive metastore partition filters (get_partitions_by_filter) as Glue partition expressions.

Spark, Hive and Trino send filters in Hive's filter language: `year = 2024 and (region = "eu"
or region = 'apac')`, `month between 3 and 5`, `day like "2024.*"`, `dt = 2024-01-31`. The door
translates them to Glue's GetPartitions expression, which the catalog evaluates with indexes.

A clause Glue cannot express (a LIKE pattern that is a regular expression, say) is widened to
"every partition": the door may answer a superset, because Hive's clients (Spark's
HiveExternalCatalog.listPartitionsByFilter, Hive's own pruner) filter the partitions they get
again. The language has no NOT over a clause, so widening one clause never narrows the whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<date>\d{4}-\d{2}-\d{2})(?![\w-])
    | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
    | (?P<op><=|>=|<>|!=|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][\w.$]*|`[^`]+`)
    )""",
    re.VERBOSE,
)
_OPS = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
# The mirror of an operator, for `value op key` written the other way round.
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "BETWEEN", "DATE"}


class FilterSyntaxError(ValueError):
    """The filter is not in Hive's filter language."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


@dataclass(frozen=True)
class _Value:
    """A literal, rendered as Glue writes it."""

    glue: str


def to_glue_expression(hive_filter: str) -> str:
    """The Glue expression selecting (at least) the partitions `hive_filter` selects.

    Returns:
        The expression; "" (every partition) when the filter is empty or nothing of it can be
        expressed in Glue's language.

    Raises:
        FilterSyntaxError: the filter is malformed.
    """
    tokens = _tokenize(hive_filter)
    if not tokens:
        return ""
    parser = _Parser(tokens)
    expression = parser.or_expression()
    if not parser.at_end():
        raise FilterSyntaxError(f"unexpected {parser.peek().text!r} in filter {hive_filter!r}")
    return expression or ""


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterSyntaxError(f"unexpected character at {position + 1} in {text!r}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over Hive's grammar; each rule returns Glue text, or None for TRUE."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._i = 0

    def at_end(self) -> bool:
        return self._i >= len(self._tokens)

    def peek(self) -> _Token:
        if self.at_end():
            return _Token("end", "end of filter")
        return self._tokens[self._i]

    def _next(self) -> _Token:
        token = self.peek()
        if token.kind == "end":
            raise FilterSyntaxError("the filter ends too early")
        self._i += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "word" and token.text.upper() == word:
            self._i += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        token = self._next()
        if token.text.upper() != text:
            raise FilterSyntaxError(f"expected {text!r}, found {token.text!r}")

    def or_expression(self) -> str | None:
        parts = [self.and_expression()]
        while self._keyword("OR"):
            parts.append(self.and_expression())
        if any(part is None for part in parts):
            return None  # one unrestricted alternative: every partition
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]

    def and_expression(self) -> str | None:
        parts = [self.clause()]
        while self._keyword("AND"):
            parts.append(self.clause())
        kept = [part for part in parts if part is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else "(" + " AND ".join(kept) + ")"

    def clause(self) -> str | None:
        if self.peek().text == "(":
            self._next()
            inner = self.or_expression()
            self._expect(")")
            return inner
        left = self._next()
        if left.kind == "word" and left.text.upper() not in _KEYWORDS:
            return self._predicate(_key(left.text))
        value = self._value(left)
        op = self._next()
        if op.kind != "op":
            raise FilterSyntaxError(f"expected a comparison after {left.text!r}")
        key = self._next()
        if key.kind != "word":
            raise FilterSyntaxError(f"expected a partition key, found {key.text!r}")
        return f"{_key(key.text)} {_FLIPPED[_OPS[op.text]]} {value.glue}"

    def _predicate(self, key: str) -> str | None:
        negated = self._keyword("NOT")
        if self._keyword("IN"):
            self._expect("(")
            values = [self._value(self._next())]
            while self.peek().text == ",":
                self._next()
                values.append(self._value(self._next()))
            self._expect(")")
            listed = ", ".join(v.glue for v in values)
            return f"{key} {'NOT IN' if negated else 'IN'} ({listed})"
        if self._keyword("BETWEEN"):
            low = self._value(self._next())
            self._expect("AND")
            high = self._value(self._next())
            return f"{key} {'NOT BETWEEN' if negated else 'BETWEEN'} {low.glue} AND {high.glue}"
        if self._keyword("LIKE"):
            pattern = self._next()
            if pattern.kind != "string":
                raise FilterSyntaxError(f"LIKE needs a string, found {pattern.text!r}")
            like = _regex_to_like(_unquote(pattern.text))
            if like is None:
                return None  # a regular expression Glue's LIKE cannot say: widened
            return f"{key} {'NOT LIKE' if negated else 'LIKE'} {_quote(like)}"
        if negated:
            raise FilterSyntaxError("NOT must be followed by IN, BETWEEN or LIKE")
        op = self._next()
        if op.kind != "op":
            raise FilterSyntaxError(f"expected a comparison after {key!r}, found {op.text!r}")
        return f"{key} {_OPS[op.text]} {self._value(self._next()).glue}"

    def _value(self, token: _Token) -> _Value:
        if token.kind == "word" and token.text.upper() == "DATE":
            token = self._next()
        if token.kind == "string":
            return _Value(_quote(_unquote(token.text)))
        if token.kind == "date":
            return _Value(_quote(token.text))
        if token.kind == "number":
            return _Value(token.text)
        raise FilterSyntaxError(f"expected a value, found {token.text!r}")


def _key(text: str) -> str:
    name = text[1:-1] if text.startswith("`") else text
    if re.fullmatch(r"[A-Za-z_]\w*", name):
        return name
    return "`" + name.replace("`", "``") + "`"


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _regex_to_like(pattern: str) -> str | None:
    """Hive's LIKE takes a Java regular expression; the LIKE pattern matching the same strings,
    or None when the regex uses more than '.*' and '.' (or would need % or _ escaped)."""
    if "%" in pattern or "_" in pattern:
        return None
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(".*", i):
            out.append("%")
            i += 2
        elif pattern[i] == ".":
            out.append("_")
            i += 1
        elif pattern[i] == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            out.append(pattern[i + 1])
            i += 2
        elif pattern[i] in "[](){}?+*^$|\\":
            return None
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)
