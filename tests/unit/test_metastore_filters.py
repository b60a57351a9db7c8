"""Hive metastore partition filters, as Spark/Hive/Trino send them, translated to Glue's."""

from __future__ import annotations

import pytest

from sluice.catalog.core.expression import parse
from sluice.sdk.metastore.filters import FilterSyntaxError, to_glue_expression

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("hive", "glue"),
    [
        ("", ""),
        ("year = 2024", "year = 2024"),
        ('region = "eu"', "region = 'eu'"),
        ("region = 'eu'", "region = 'eu'"),
        ("2024 <= year", "year >= 2024"),
        ("year != 2023", "year <> 2023"),
        ("year <> 2023", "year <> 2023"),
        ('(year = 2024 and region = "eu")', "(year = 2024 AND region = 'eu')"),
        ("(month = 1 or month = 2)", "(month = 1 OR month = 2)"),
        (
            'year = 2024 and (region = "eu" or region = "apac")',
            "(year = 2024 AND (region = 'eu' OR region = 'apac'))",
        ),
        ("dt = 2024-01-31", "dt = '2024-01-31'"),
        ("year >= -1", "year >= -1"),
        ("month between 3 and 5", "month BETWEEN 3 AND 5"),
        ("month not between 3 and 5", "month NOT BETWEEN 3 AND 5"),
        ('region in ("eu", "us")', "region IN ('eu', 'us')"),
        ("region not in ('eu')", "region NOT IN ('eu')"),
        ('day like "2024.*"', "day LIKE '2024%'"),
        ('day like ".*-01"', "day LIKE '%-01'"),
        ("`my key` = 1", "`my key` = 1"),
        ('name = "it\'s"', "name = 'it''s'"),
        ('name = "say \\"hi\\""', "name = 'say \"hi\"'"),
        # A regular expression Glue's LIKE cannot say: every partition for that clause.
        ('year = 2024 and day like "2024-0[1-3].*"', "year = 2024"),
        ('(year = 2024 or day like "a|b")', ""),
        ('day like "x_y"', ""),
    ],
)
def test_translation(hive: str, glue: str) -> None:
    assert to_glue_expression(hive) == glue


@pytest.mark.parametrize(
    "hive",
    [
        "year = 2024 and (region = 'eu' or region = 'apac') and month between 1 and 3",
        "dt = 2024-01-31 or dt in ('2024-02-01', '2024-02-02')",
        "region not in ('eu', 'us') and day like 'x.*'",
    ],
)
def test_translations_parse_as_glue_expressions(hive: str) -> None:
    parse(to_glue_expression(hive))


@pytest.mark.parametrize(
    "hive",
    ["year =", "year = 2024 and", "(year = 2024", "year 2024", "= 3", 'year = "open', "year ~ 3"],
)
def test_malformed_filters_are_refused(hive: str) -> None:
    with pytest.raises(FilterSyntaxError):
        to_glue_expression(hive)
