"""Glue partition expressions: parsing, errors, limits, and what the compiled SQL selects.

The semantic tests run the compiled conditions on SQLite (unit) and on PostgreSQL (contract)
against a table of partitions whose slot columns hold encoded values, as the catalog store's do.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from sluice.catalog.core.expression import Expr, parse, to_sql
from sluice.catalog.core.expression.ast import (
    And,
    Between,
    Comparison,
    InList,
    IsNull,
    Like,
    Literal,
    LiteralKind,
    Not,
    Or,
)
from sluice.catalog.core.partition_keys import KeyType, PartitionKey, encode_values
from sluice.common.db import Database
from sluice.common.errors import InternalError, InvalidInput

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

KEYS = (
    PartitionKey("year", KeyType.INTEGER),
    PartitionKey("dt", KeyType.DATE),
    PartitionKey("region", KeyType.STRING),
    PartitionKey("score", KeyType.OTHER),
)
YEARS = (-10, -1, 0, 9, 10, 2023, 2024)
DATES = ("2023-12-31", "2024-01-01", "2024-01-31", "2024-02-01", "2024-02-29", "2024-03-01")
REGIONS = ("eu-west", "EU-west", "eu_west", "euXwest", "us-east", "us%east", "a\\b", "é", "10", "9")
SCORES = ("1.5", "10", "9.0", "-1")


@dataclass(frozen=True)
class Row:
    id: int
    year: int
    dt: str
    region: str
    score: str

    def value(self, key: str) -> Any:
        return getattr(self, key)


ROWS = tuple(
    Row(i, *values)
    for i, values in enumerate(itertools.product(YEARS, DATES, REGIONS, SCORES), start=1)
)


def shape(expr: Expr | None) -> str:
    """A compact, position-free rendering of a tree, for asserting on its structure."""
    match expr:
        case None:
            return "none"
        case Comparison(key, op, value):
            return f"({op} {key.name} {_lit(value)})"
        case InList(key, values, negated):
            items = " ".join(_lit(v) for v in values)
            return f"({'not-in' if negated else 'in'} {key.name} {items})"
        case Between(key, low, high, negated):
            word = "not-between" if negated else "between"
            return f"({word} {key.name} {_lit(low)} {_lit(high)})"
        case Like(key, pattern, negated):
            return f"({'not-like' if negated else 'like'} {key.name} {_lit(pattern)})"
        case IsNull(key, negated):
            return f"({'is-not-null' if negated else 'is-null'} {key.name})"
        case And(operands):
            return "(and " + " ".join(shape(o) for o in operands) + ")"
        case Or(operands):
            return "(or " + " ".join(shape(o) for o in operands) + ")"
        case Not(operand):
            return f"(not {shape(operand)})"
    raise TypeError(expr)


def _lit(literal: Literal) -> str:
    if literal.kind is LiteralKind.STRING:
        return "'" + literal.text + "'"
    return f"{literal.kind}:{literal.text}"


def error_of(text_: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        compile_text(text_)
    return caught.value.message


def compile_text(text_: str) -> Any:
    expr = parse(text_)
    if expr is None:
        return None
    slots = [Column(f"k{i}", String) for i in range(len(KEYS))]
    return to_sql(expr, KEYS, slots)


@pytest.mark.unit
class TestParse:
    @pytest.mark.parametrize("text_", ["", "   ", "\t\n "])
    def test_empty_expression_is_none(self, text_: str) -> None:
        assert parse(text_) is None

    @pytest.mark.parametrize(
        ("text_", "expected"),
        [
            ("year = 2024", "(= year integer:2024)"),
            ("year<>1", "(<> year integer:1)"),
            ("year != 1", "(<> year integer:1)"),
            ("year<1", "(< year integer:1)"),
            ("year <= -1", "(<= year integer:-1)"),
            ("year>-1", "(> year integer:-1)"),
            ("year >= '1'", "(>= year '1')"),
            ("score = 1.5", "(= score decimal:1.5)"),
            ("score = -0.25", "(= score decimal:-0.25)"),
            ("region = TRUE", "(= region boolean:true)"),
            ("region = false", "(= region boolean:false)"),
            ("region = 'it''s'", "(= region 'it's')"),
            ("region = ''", "(= region '')"),
            ("region = 'a AND b'", "(= region 'a AND b')"),
            ("YEAR = 1", "(= year integer:1)"),
            ("Year_2 = 1", "(= year_2 integer:1)"),
            ("_x = 1", "(= _x integer:1)"),
            ("`Key Name` = 1", "(= key name integer:1)"),
            ("`a``b` = 1", "(= a`b integer:1)"),
            ("`and` = 1", "(= and integer:1)"),
            ("année = 1", "(= année integer:1)"),
            ("year in (1)", "(in year integer:1)"),
            ("year IN (1, '2',-3)", "(in year integer:1 '2' integer:-3)"),
            ("year not in (1,2)", "(not-in year integer:1 integer:2)"),
            ("year between 1 and 2", "(between year integer:1 integer:2)"),
            ("year NOT BETWEEN 1 AND 2", "(not-between year integer:1 integer:2)"),
            ("region like 'a%'", "(like region 'a%')"),
            ("region Not Like 'a_'", "(not-like region 'a_')"),
            ("region is null", "(is-null region)"),
            ("region IS NOT NULL", "(is-not-null region)"),
        ],
    )
    def test_predicates(self, text_: str, expected: str) -> None:
        assert shape(parse(text_)) == expected

    @pytest.mark.parametrize(
        ("text_", "expected"),
        [
            (
                "a = 1 or b = 2 and c = 3",
                "(or (= a integer:1) (and (= b integer:2) (= c integer:3)))",
            ),
            (
                "a = 1 and b = 2 or c = 3",
                "(or (and (= a integer:1) (= b integer:2)) (= c integer:3))",
            ),
            (
                "(a = 1 or b = 2) and c = 3",
                "(and (or (= a integer:1) (= b integer:2)) (= c integer:3))",
            ),
            ("not a = 1 and b = 2", "(and (not (= a integer:1)) (= b integer:2))"),
            ("not (a = 1 and b = 2)", "(not (and (= a integer:1) (= b integer:2)))"),
            ("not not a = 1", "(not (not (= a integer:1)))"),
            ("NOT a NOT IN (1)", "(not (not-in a integer:1))"),
            (
                "a = 1 AND b = 2 AND c = 3 OR d = 4 OR e = 5",
                "(or (and (= a integer:1) (= b integer:2) (= c integer:3)) "
                "(= d integer:4) (= e integer:5))",
            ),
            (
                "a between 1 and 2 and b = 3",
                "(and (between a integer:1 integer:2) (= b integer:3))",
            ),
            ("((a = 1))", "(= a integer:1)"),
            ("(a=1)OR(b=2)", "(or (= a integer:1) (= b integer:2))"),
        ],
    )
    def test_precedence_and_parentheses(self, text_: str, expected: str) -> None:
        assert shape(parse(text_)) == expected

    def test_positions_are_one_based_characters(self) -> None:
        expr = parse("  é = 'x' and `k k` in (5, 'y')")
        assert isinstance(expr, And)
        first, second = expr.operands
        assert isinstance(first, Comparison)
        assert (first.key.position, first.value.position) == (3, 7)
        assert isinstance(second, InList)
        assert second.key.position == 15
        assert [v.position for v in second.values] == [25, 28]


@pytest.mark.unit
class TestErrors:
    @pytest.mark.parametrize(
        ("text_", "message"),
        [
            (
                "year >= 2020 AND month =",
                "position 25: expected a value after '=', found end of input",
            ),
            ("year = ", "position 8: expected a value after '=', found end of input"),
            (
                "year",
                "position 5: expected =, <>, !=, <, <=, >, >=, IN, BETWEEN, LIKE or IS "
                "after the key 'year', found end of input",
            ),
            (
                "year 5",
                "position 6: expected =, <>, !=, <, <=, >, >=, IN, BETWEEN, LIKE or IS "
                "after the key 'year', found '5'",
            ),
            (
                "year = 1 year = 2",
                "position 10: expected AND, OR or the end of the expression, found 'year'",
            ),
            (
                "(year = 1",
                "position 10: expected AND, OR or ')' to close the '(' at position 1, "
                "found end of input",
            ),
            ("year = 1)", "position 9: this ')' has no matching '('"),
            (
                "year = 1 and",
                "position 13: expected a partition key, NOT or '(', found end of input",
            ),
            ("and = 1", "position 1: expected a partition key, NOT or '(', found 'and'"),
            ("= 1", "position 1: expected a partition key, NOT or '(', found '='"),
            (
                "year = NULL",
                "position 8: expected a value after '=' (test for null with IS NULL), found 'NULL'",
            ),
            ("year = other", "position 8: expected a value after '=', found 'other'"),
            ("year == 1", "position 7: expected a value after '=', found '='"),
            ("year in 1", "position 9: expected '(' after IN, found '1'"),
            ("year in ()", "position 10: expected a value after '(', found ')'"),
            ("year in (1 2)", "position 12: expected ',' or ')' in the IN list, found '2'"),
            ("year in (1,)", "position 12: expected a value after ',', found ')'"),
            (
                "year between 1",
                "position 15: expected AND between the two bounds of BETWEEN, found end of input",
            ),
            (
                "year between 1 or 2",
                "position 16: expected AND between the two bounds of BETWEEN, found 'or'",
            ),
            ("year between and 2", "position 14: expected a value after BETWEEN, found 'and'"),
            ("region like x", "position 13: expected a quoted pattern after LIKE, found 'x'"),
            ("year is 1", "position 9: expected NULL or NOT NULL after IS, found '1'"),
            ("year is not", "position 12: expected NULL or NOT NULL after IS, found end of input"),
            ("year not = 1", "position 10: expected IN, BETWEEN or LIKE after NOT, found '='"),
            ("year = 'abc", "position 8: this string is not closed: a ' is missing"),
            ("`year = 1", "position 1: this key name is not closed: a ` is missing"),
            ("`` = 1", "position 1: a key name in back quotes must not be empty"),
            ('year = "a"', "position 8: unexpected character '\"': strings use single quotes"),
            ("year ! 1", "position 6: unexpected character '!': did you mean '!='?"),
            ("year = 1; drop", "position 9: unexpected character ';'"),
            ("year = 1.", "position 10: expected digits after the decimal point"),
            ("year = 12abc", "position 8: malformed number '12abc'"),
            ("year = 1.2.3", "position 8: malformed number '1.2.3'"),
            ("year = - 1", "position 8: unexpected character '-'"),
            ("year = \x00", "position 8: unexpected character '\\x00'"),
        ],
    )
    def test_syntax_errors_say_where_and_what(self, text_: str, message: str) -> None:
        assert error_of(text_) == f"expression error at {message}"

    def test_unknown_key_lists_the_tables_keys(self) -> None:
        assert error_of("year = 1 and month = 2") == (
            "unknown partition key 'month' at position 14; "
            "the table's keys are: year, dt, region, score"
        )

    def test_unknown_key_on_a_table_without_keys(self) -> None:
        expr = parse("x = 1")
        assert expr is not None
        with pytest.raises(InvalidInput, match="unknown partition key 'x' at position 1; "):
            to_sql(expr, (), ())

    @pytest.mark.parametrize(
        ("text_", "message"),
        [
            (
                "year = 'abc'",
                "position 8: value 'abc' is not an integer for partition key 'year' (int)",
            ),
            (
                "year in (1, 1.5)",
                "position 13: value '1.5' is not an integer for partition key 'year' (int)",
            ),
            (
                "year = true",
                "position 8: value 'true' is not an integer for partition key 'year' (int)",
            ),
            (
                "year between 1 and ' 2'",
                "position 20: value ' 2' is not an integer for partition key 'year' (int)",
            ),
            (
                "year > 9223372036854775808",
                "position 8: value '9223372036854775808' is out of "
                "the 64-bit integer range for partition key 'year' (int)",
            ),
            (
                "dt = '2024-02-30'",
                "position 6: value '2024-02-30' is not a valid calendar date "
                "for partition key 'dt' (date)",
            ),
            (
                "dt >= 2024",
                "position 7: value '2024' is not a date (YYYY-MM-DD) for partition key 'dt' (date)",
            ),
            ("year like '1%'", "position 1: LIKE needs a string partition key, but 'year' is int"),
            (
                "dt not like '2024%'",
                "position 1: LIKE needs a string partition key, but 'dt' is date",
            ),
            (
                "region like 'a\\'",
                "position 13: the LIKE pattern ends with the escape character "
                "'\\'; write '\\\\' to match a backslash",
            ),
            (
                "region = 'a\tb'",
                "position 10: value of partition key 'region' contains a control character",
            ),
            ("region like '\nb'", "position 13: the LIKE pattern contains a control character"),
        ],
    )
    def test_literals_must_fit_the_keys_type(self, text_: str, message: str) -> None:
        assert error_of(text_) == f"expression error at {message}"

    def test_keys_and_slots_must_pair_up(self) -> None:
        expr = parse("year = 1")
        assert expr is not None
        with pytest.raises(ValueError, match="4 partition keys but 1 slot columns"):
            to_sql(expr, KEYS, [Column("k0", String)])


@pytest.mark.unit
class TestLimits:
    def test_expression_length(self) -> None:
        padding = " " * (2048 - len("year = 1"))
        assert parse("year = 1" + padding) is not None
        with pytest.raises(InvalidInput, match="2049 characters long; at most 2048"):
            parse("year = 1" + padding + " ")

    def test_parenthesis_depth(self) -> None:
        assert shape(parse("(" * 50 + "a = 1" + ")" * 50)) == "(= a integer:1)"
        assert error_of("(" * 51 + "a = 1" + ")" * 51) == (
            "expression error at position 51: the expression is nested more than 50 levels deep"
        )

    def test_not_depth(self) -> None:
        assert parse("not " * 50 + "a = 1") is not None
        assert error_of("not " * 51 + "a = 1") == (
            "expression error at position 201: the expression is nested more than 50 levels deep"
        )

    def test_mixed_depth(self) -> None:
        assert parse("(not " * 25 + "a = 1" + ")" * 25) is not None
        with pytest.raises(InvalidInput, match="nested more than 50 levels"):
            parse("(not " * 26 + "a = 1" + ")" * 26)

    @pytest.mark.parametrize("opening", ["(", "not ", "(not ", "((a=1) or "])
    def test_deep_nesting_is_an_error_not_a_crash(self, opening: str) -> None:
        with pytest.raises(InvalidInput, match="nested more than 50 levels"):
            parse(opening * (2000 // len(opening)))

    def test_long_and_chains_stay_flat(self) -> None:
        text_ = " and ".join(["year = 1"] * 150)
        expr = parse(text_)
        assert isinstance(expr, And)
        assert len(expr.operands) == 150

    def test_in_list_size(self) -> None:
        expr = parse("year in (" + ",".join(["1"] * 1000) + ")")
        assert isinstance(expr, InList)
        assert len(expr.values) == 1000
        text_ = "year in (" + ",".join(["1"] * 1001) + ")"
        assert error_of(text_) == (
            "expression error at position 2010: an IN list may hold at most 1000 values"
        )


_TOKENS = (
    "(",
    ")",
    ",",
    "=",
    "<>",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "-",
    ".",
    "'",
    "`",
    "''",
    "NOT",
    "not",
    "AND",
    "or",
    "IN",
    "BETWEEN",
    "LIKE",
    "IS",
    "NULL",
    "true",
    "False",
    "year",
    "dt",
    "region",
    "score",
    "other",
    "`region`",
    "`k k`",
    "1",
    "-1",
    "1.5",
    "007",
    "9223372036854775808",
    "'2024-02-29'",
    "'2024-02-30'",
    "'eu%'",
    "'a\\'",
    "'x'",
    "'1'",
    "é",
    "\x00",
    "\t",
    '"',
)


@pytest.mark.unit
class TestRobustness:
    @staticmethod
    def _check(text_: str) -> None:
        try:
            condition = compile_text(text_)
        except InvalidInput as exc:
            assert exc.message
            return
        if condition is not None:
            condition.compile(dialect=sqlite.dialect())
            condition.compile(dialect=postgresql.dialect())

    @given(st.text(max_size=400))
    @settings(max_examples=400)
    def test_any_text_is_parsed_or_rejected_with_invalid_input(self, text_: str) -> None:
        self._check(text_)

    @given(
        st.lists(st.sampled_from(_TOKENS), max_size=80),
        st.sampled_from([" ", "", "  "]),
    )
    @settings(max_examples=600)
    def test_any_token_sequence_is_parsed_or_rejected(self, tokens: list[str], sep: str) -> None:
        self._check(sep.join(tokens))

    @given(st.integers(min_value=0, max_value=2100), st.sampled_from(["(", "not ", ")", "'"]))
    @settings(max_examples=100)
    def test_long_repetitions(self, count: int, piece: str) -> None:
        self._check(piece * count)


@pytest.mark.unit
def test_compiled_sql_compares_slot_columns_with_bound_parameters() -> None:
    # Collated slots, as the store declares them on PostgreSQL: the parameters must not inherit
    # the collation, since "BETWEEN $1::VARCHAR COLLATE "C" AND ..." is a syntax error there.
    slots = [Column(f"k{i}", String(collation="C")) for i in range(len(KEYS))]
    expr = parse(
        "year > 9 and not (dt between '2024-01-01' and '2024-02-01' or region like 'eu%') "
        "or region not in ('a', 'b') and score is not null and year <> -1"
    )
    assert expr is not None
    condition = to_sql(expr, KEYS, slots)
    on_sqlite = condition.compile(dialect=sqlite.dialect())
    assert str(on_sqlite) == (
        "k0 > ? AND NOT (k1 BETWEEN ? AND ? OR k2 LIKE ? ESCAPE '\\') "
        "OR (k2 NOT IN (__[POSTCOMPILE_param_5])) AND k3 IS NOT NULL AND k0 != ?"
    )
    assert on_sqlite.params == {
        "param_1": str(9 + 2**63).zfill(20),
        "param_2": "2024-01-01",
        "param_3": "2024-02-01",
        "param_4": "eu%",
        "param_5": ["a", "b"],
        "param_6": str(-1 + 2**63).zfill(20),
    }
    on_postgres = str(condition.compile(dialect=postgresql.dialect()))
    assert "COLLATE" not in on_postgres
    assert "k1 BETWEEN %(param_2)s::VARCHAR AND %(param_3)s::VARCHAR" in on_postgres


# --- Semantics: compiled conditions run on a real database --------------------------------


@dataclass(frozen=True)
class Backend:
    db: Database
    table: Table

    def ids(self, text_: str) -> frozenset[int]:
        expr = parse(text_)
        query = select(self.table.c.id)
        if expr is not None:
            slots = [self.table.c[f"k{i}"] for i in range(len(KEYS))]
            query = query.where(to_sql(expr, KEYS, slots))
        with self.db.read() as conn:
            return frozenset(conn.execute(query).scalars())


def _partition_table(collation: str | None) -> Table:
    metadata = MetaData()
    slots = [Column(f"k{i}", String(collation=collation)) for i in range(len(KEYS))]
    table = Table("partitions", metadata, Column("id", Integer, primary_key=True), *slots)
    for i in range(len(KEYS)):
        Index(f"ix_partitions_k{i}", table.c[f"k{i}"])
    return table


def _load(db: Database, collation: str | None) -> Backend:
    table = _partition_table(collation)
    rows = []
    for row in ROWS:
        values = [str(row.year), row.dt, row.region, row.score]
        encoded = encode_values(KEYS, values)
        rows.append({"id": row.id, **{f"k{i}": v for i, v in enumerate(encoded)}})
    with db.write() as conn:
        table.metadata.create_all(conn)
        conn.execute(insert(table), rows)
    return Backend(db, table)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgresql", marks=pytest.mark.contract),
    ],
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "sqlite":
        db = Database("sqlite://")
        try:
            yield _load(db, collation=None)
        finally:
            db.dispose()
        return
    admin = Database(POSTGRES_URL)
    schema = f"expr_{uuid.uuid4().hex}"
    try:
        with admin.write() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except InternalError:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    db = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        # COLLATE "C": byte order, as the catalog store's slot columns are declared.
        yield _load(db, collation="C")
    finally:
        db.dispose()
        with admin.write() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _where(key: str, values: set[Any]) -> frozenset[int]:
    return frozenset(row.id for row in ROWS if row.value(key) in values)


SINGLE_KEY_CASES = [
    ("year = 2024", "year", {2024}),
    ("year = '2024'", "year", {2024}),
    ("year in (009, '0010')", "year", {9, 10}),
    ("year > 9", "year", {10, 2023, 2024}),
    ("year >= 9", "year", {9, 10, 2023, 2024}),
    ("year < 0", "year", {-10, -1}),
    ("year <= -1", "year", {-10, -1}),
    ("year > -5", "year", {-1, 0, 9, 10, 2023, 2024}),
    ("year <> 0", "year", {-10, -1, 9, 10, 2023, 2024}),
    ("year != 0", "year", {-10, -1, 9, 10, 2023, 2024}),
    ("year between -1 and 10", "year", {-1, 0, 9, 10}),
    ("year not between -1 and 10", "year", {-10, 2023, 2024}),
    ("year between 10 and -1", "year", set()),
    ("year in (9, '10', -10, 5)", "year", {9, 10, -10}),
    ("year not in (9, 10)", "year", {-10, -1, 0, 2023, 2024}),
    ("year in (" + ",".join(["9"] * 999 + ["2024"]) + ")", "year", {9, 2024}),
    ("dt >= '2024-01-31'", "dt", {"2024-01-31", "2024-02-01", "2024-02-29", "2024-03-01"}),
    ("dt < '2024-02-01'", "dt", {"2023-12-31", "2024-01-01", "2024-01-31"}),
    ("dt between '2024-02-01' and '2024-02-29'", "dt", {"2024-02-01", "2024-02-29"}),
    ("dt > '2024-01-31' and dt <= '2024-02-29'", "dt", {"2024-02-01", "2024-02-29"}),
    ("dt = '2024-02-29'", "dt", {"2024-02-29"}),
    ("dt in ('2023-12-31', '2024-03-01')", "dt", {"2023-12-31", "2024-03-01"}),
    ("region = 'eu-west'", "region", {"eu-west"}),
    ("region = 'EU-WEST'", "region", set()),
    ("region like 'eu%'", "region", {"eu-west", "eu_west", "euXwest"}),
    ("region like 'EU%'", "region", {"EU-west"}),
    ("region like 'eu_west'", "region", {"eu-west", "eu_west", "euXwest"}),
    ("region like 'eu\\_west'", "region", {"eu_west"}),
    ("region like '%\\%%'", "region", {"us%east"}),
    ("region like 'a\\\\b'", "region", {"a\\b"}),
    ("region like '_'", "region", {"é", "9"}),
    ("region like '%'", "region", set(REGIONS)),
    ("region not like '%west'", "region", {"us-east", "us%east", "a\\b", "é", "10", "9"}),
    ("region > 'eu'", "region", {"eu-west", "eu_west", "euXwest", "us-east", "us%east", "é"}),
    ("region = 10", "region", {"10"}),
    ("region < 9", "region", {"10"}),
    ("region in ('é', 'EU-west')", "region", {"é", "EU-west"}),
    ("region is null", "region", set()),
    ("region is not null", "region", set(REGIONS)),
    ("score = 1.5", "score", {"1.5"}),
    ("score = 9", "score", set()),
    ("score > 9", "score", {"9.0"}),
    ("score < '1.5'", "score", {"-1"}),
    ("score like '1%'", "score", {"1.5", "10"}),
    ("`Year` = 9", "year", {9}),
    ("YEAR = 9", "year", {9}),
]


@pytest.mark.parametrize(("text_", "key", "values"), SINGLE_KEY_CASES)
def test_single_key_predicates(backend: Backend, text_: str, key: str, values: set[Any]) -> None:
    assert backend.ids(text_) == _where(key, values)


BOOLEAN_CASES: list[tuple[str, Callable[[Row], bool]]] = [
    ("year = 2024 and dt >= '2024-02-01'", lambda r: r.year == 2024 and r.dt >= "2024-02-01"),
    ("year = 2024 or region = 'é'", lambda r: r.year == 2024 or r.region == "é"),
    (
        "not year = 2024 and region like 'eu%'",
        lambda r: r.year != 2024 and r.region in ("eu-west", "eu_west", "euXwest"),
    ),
    (
        "not (year = 2024 and region like 'eu%')",
        lambda r: not (r.year == 2024 and r.region in ("eu-west", "eu_west", "euXwest")),
    ),
    (
        "year = 9 or year = 10 and dt = '2024-01-01'",
        lambda r: r.year == 9 or (r.year == 10 and r.dt == "2024-01-01"),
    ),
    (
        "(year = 9 or year = 10) and dt = '2024-01-01'",
        lambda r: r.year in (9, 10) and r.dt == "2024-01-01",
    ),
    ("not not year = 0", lambda r: r.year == 0),
    ("", lambda r: True),
]


@pytest.mark.parametrize(("text_", "predicate"), BOOLEAN_CASES)
def test_boolean_combinations(
    backend: Backend, text_: str, predicate: Callable[[Row], bool]
) -> None:
    assert backend.ids(text_) == frozenset(row.id for row in ROWS if predicate(row))


@pytest.mark.parametrize(
    "text_",
    [
        "year > 9",
        "year = -1",
        "year in (9, 10)",
        "dt between '2024-01-01' and '2024-01-31'",
        "region = 'é'",
        "region like 'eu%'",
    ],
)
def test_predicates_can_use_the_slot_index(backend: Backend, text_: str) -> None:
    slots = [backend.table.c[f"k{i}"] for i in range(len(KEYS))]
    expr = parse(text_)
    assert expr is not None
    query = select(backend.table.c.id).where(to_sql(expr, KEYS, slots))
    with backend.db.read() as conn:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        if backend.db.is_sqlite:
            params: Any = tuple(compiled.params[name] for name in compiled.positiontup or ())
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", params).all()
            detail = " ".join(str(step[-1]) for step in plan)
            assert re.search("USING (COVERING )?INDEX ix_partitions_k", detail), detail
        else:
            # Forbidding sequential scans shows whether an index can serve the predicate at all.
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = conn.exec_driver_sql(f"EXPLAIN {compiled.string}", compiled.params).all()
            detail = " ".join(step[0] for step in plan)
            assert "ix_partitions_k" in detail, detail


# --- Property: the SQL selects exactly what a reference evaluator accepts ------------------


@dataclass(frozen=True)
class Gen:
    """A generated expression: its text, how loosely it binds, and what it should select."""

    text: str
    precedence: int  # 1 OR, 2 AND, 3 NOT, 4 a predicate
    accepts: Callable[[Row], bool]


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_LIKE_PATTERNS = {
    "region": [
        "eu%",
        "EU%",
        "%west",
        "e_-west",
        "eu\\_west",
        "us\\%east",
        "%\\%%",
        "%",
        "_",
        "__",
        "a\\\\b",
        "",
        "%é%",
        "1%",
        "%-%",
    ],
    "score": ["1%", "%.%", "-_", "_0", "9._", "%"],
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _keyword(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word.lower(), word.upper(), word.capitalize()])


@st.composite
def _key_name(draw: st.DrawFn, name: str) -> str:
    spelled = draw(st.sampled_from([name, name.upper(), name.capitalize()]))
    return f"`{spelled}`" if draw(st.booleans()) else spelled


def _literal(key: str) -> st.SearchStrategy[tuple[str, Any]]:
    """(text as written, the value it means for `key`)."""
    if key == "year":
        numbers = st.sampled_from([-11, -10, -1, 0, 1, 9, 10, 11, 2023, 2024, 2025])
        return st.tuples(numbers, st.booleans()).map(
            lambda p: (_quote(str(p[0])) if p[1] else str(p[0]), p[0])
        )
    if key == "dt":
        dates = st.sampled_from([*DATES, "2023-12-30", "2024-02-28", "2024-03-02", "2024-01-15"])
        return dates.map(lambda d: (_quote(date.fromisoformat(d).isoformat()), d))
    if key == "region":
        quoted = st.sampled_from([*REGIONS, "eu", "EU", "f", "o'brien", "", "us"]).map(
            lambda s: (_quote(s), s)
        )
        bare = st.sampled_from(["9", "10", "1", "-1"]).map(lambda s: (s, s))
        words = st.sampled_from(["true", "FALSE"]).map(lambda s: (s, s.lower()))
        return st.one_of(quoted, bare, words)
    quoted = st.sampled_from([*SCORES, "1", "9", "2", "-"]).map(lambda s: (_quote(s), s))
    bare = st.sampled_from(["1.5", "9.0", "10", "-1", "9", "0.5"]).map(lambda s: (s, s))
    return st.one_of(quoted, bare)


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


@st.composite
def _predicate(draw: st.DrawFn) -> Gen:
    key = draw(st.sampled_from([k.name for k in KEYS]))
    name = draw(_key_name(key))
    choices = ["compare", "in", "between", "null"]
    if key in _LIKE_PATTERNS:
        choices.append("like")
    kind = draw(st.sampled_from(choices))
    negated = draw(st.booleans())
    not_ = draw(_keyword("not")) + " " if negated else ""

    def flip(result: bool) -> bool:
        return result != negated

    if kind == "compare":
        op = draw(st.sampled_from(sorted(_OPS)))
        written, value = draw(_literal(key))
        test = _OPS[op]
        return Gen(f"{name} {op} {written}", 4, lambda r: test(r.value(key), value))
    if kind == "in":
        items = draw(st.lists(_literal(key), min_size=1, max_size=4))
        values = {value for _, value in items}
        listed = ", ".join(written for written, _ in items)
        text_ = f"{name} {not_}{draw(_keyword('in'))} ({listed})"
        return Gen(text_, 4, lambda r: flip(r.value(key) in values))
    if kind == "between":
        (low_text, low), (high_text, high) = draw(_literal(key)), draw(_literal(key))
        text_ = (
            f"{name} {not_}{draw(_keyword('between'))} {low_text} "
            f"{draw(_keyword('and'))} {high_text}"
        )
        return Gen(text_, 4, lambda r: flip(low <= r.value(key) <= high))
    if kind == "like":
        pattern = draw(st.sampled_from(_LIKE_PATTERNS[key]))
        regex = _like_regex(pattern)
        text_ = f"{name} {not_}{draw(_keyword('like'))} {_quote(pattern)}"
        return Gen(text_, 4, lambda r: flip(regex.fullmatch(r.value(key)) is not None))
    middle = draw(_keyword("not")) + " " if negated else ""
    text_ = f"{name} {draw(_keyword('is'))} {middle}{draw(_keyword('null'))}"
    return Gen(text_, 4, lambda r: negated)


@st.composite
def _wrapped(draw: st.DrawFn, gen: Gen, needed: int) -> str:
    if gen.precedence < needed or draw(st.booleans()):
        return f"({gen.text})"
    return gen.text


def _combine(children: st.SearchStrategy[Gen]) -> st.SearchStrategy[Gen]:
    @st.composite
    def junction(draw: st.DrawFn) -> Gen:
        is_and = draw(st.booleans())
        operands = draw(st.lists(children, min_size=2, max_size=3))
        precedence = 2 if is_and else 1
        word = draw(_keyword("and" if is_and else "or"))
        text_ = f" {word} ".join(draw(_wrapped(o, precedence)) for o in operands)
        tests = [o.accepts for o in operands]
        if is_and:
            return Gen(text_, 2, lambda r: all(t(r) for t in tests))
        return Gen(text_, 1, lambda r: any(t(r) for t in tests))

    @st.composite
    def negation(draw: st.DrawFn) -> Gen:
        operand = draw(children)
        text_ = f"{draw(_keyword('not'))} {draw(_wrapped(operand, 3))}"
        return Gen(text_, 3, lambda r: not operand.accepts(r))

    return st.one_of(junction(), negation())


EXPRESSIONS = st.recursive(_predicate(), _combine, max_leaves=10)


@given(gen=EXPRESSIONS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sql_selects_what_the_reference_evaluator_accepts(backend: Backend, gen: Gen) -> None:
    expected = frozenset(row.id for row in ROWS if gen.accepts(row))
    assert backend.ids(gen.text) == expected, gen.text
