from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice.catalog.core.model import Column
from sluice.catalog.core.partition_keys import (
    SLOT_COUNT,
    KeyType,
    PartitionKey,
    encode_value,
    encode_values,
    key_type,
    partition_keys_of,
)
from sluice.common.errors import InvalidInput

pytestmark = pytest.mark.unit

YEAR = PartitionKey("year", KeyType.INTEGER)
DT = PartitionKey("dt", KeyType.DATE)
REGION = PartitionKey("region", KeyType.STRING)
SCORE = PartitionKey("score", KeyType.OTHER)
PRICE = PartitionKey("price", KeyType.DECIMAL)
RATIO = PartitionKey("ratio", KeyType.DOUBLE)
AT = PartitionKey("at", KeyType.TIMESTAMP)
TINY = PartitionKey("tiny", KeyType.TINYINT)
SMALL = PartitionKey("small", KeyType.SMALLINT)


@pytest.mark.parametrize(
    ("hive_type", "expected"),
    [
        ("string", KeyType.STRING),
        ("STRING", KeyType.STRING),
        ("", KeyType.STRING),
        ("  ", KeyType.STRING),
        ("varchar(10)", KeyType.STRING),
        (" VarChar ( 10 ) ", KeyType.STRING),
        ("char(3)", KeyType.STRING),
        ("tinyint", KeyType.TINYINT),
        (" SmallInt", KeyType.SMALLINT),
        ("int", KeyType.INTEGER),
        ("Integer", KeyType.INTEGER),
        (" BIGINT ", KeyType.INTEGER),
        ("date", KeyType.DATE),
        ("DATE", KeyType.DATE),
        ("double", KeyType.DOUBLE),
        ("float", KeyType.DOUBLE),
        ("decimal(10,2)", KeyType.DECIMAL),
        ("decimal", KeyType.DECIMAL),
        ("DECIMAL( 38 , 0 )", KeyType.DECIMAL),
        ("timestamp", KeyType.TIMESTAMP),
        ("boolean", KeyType.OTHER),
        ("decimal(x)", KeyType.OTHER),
        ("varchar(x)", KeyType.OTHER),
        ("array<int>", KeyType.OTHER),
    ],
)
def test_key_type(hive_type: str, expected: KeyType) -> None:
    assert key_type(hive_type) is expected


def test_partition_keys_of_lower_cases_names_and_reads_types() -> None:
    keys = partition_keys_of(
        [Column("Year", "int"), Column("DT", "date"), Column("Region", "string")]
    )
    assert keys == (
        PartitionKey("year", KeyType.INTEGER),
        PartitionKey("dt", KeyType.DATE),
        PartitionKey("region", KeyType.STRING),
    )
    assert partition_keys_of([]) == ()


def test_partition_keys_of_limits_the_count() -> None:
    columns = [Column(f"k{i}", "string") for i in range(SLOT_COUNT)]
    assert len(partition_keys_of(columns)) == SLOT_COUNT
    with pytest.raises(InvalidInput, match="at most 10 partition keys, got 11"):
        partition_keys_of([*columns, Column("extra")])


def test_partition_keys_of_rejects_duplicates_case_insensitively() -> None:
    with pytest.raises(InvalidInput, match="'YEAR' is declared twice"):
        partition_keys_of([Column("year", "int"), Column("YEAR", "string")])


@pytest.mark.parametrize("name", ["", "a\nb", "x" * 256])
def test_partition_keys_of_rejects_bad_names(name: str) -> None:
    with pytest.raises(InvalidInput, match=r"partition key name .* is not valid"):
        partition_keys_of([Column(name, "string")])


def test_strings_and_other_values_are_kept_as_written() -> None:
    assert encode_value(REGION, "Eu-West ") == "Eu-West "
    assert encode_value(REGION, "") == ""
    assert encode_value(SCORE, "1.50") == "1.50"


@pytest.mark.parametrize(
    ("raw", "number"),
    [("0", 0), ("-1", -1), ("+7", 7), ("007", 7), ("-0", 0)],
)
def test_integers_encode_to_their_offset_value(raw: str, number: int) -> None:
    encoded = encode_value(YEAR, raw)
    assert len(encoded) == 20
    assert int(encoded) == number + 2**63


def test_integer_range_ends() -> None:
    assert encode_value(YEAR, str(-(2**63))) == "0" * 20
    assert encode_value(YEAR, str(2**63 - 1)) == str(2**64 - 1)
    for raw in (str(2**63), str(-(2**63) - 1)):
        with pytest.raises(InvalidInput, match="out of the 64-bit integer range"):
            encode_value(YEAR, raw)


@pytest.mark.parametrize("raw", ["abc", "", " 1", "1 ", "1_000", "1.0", "+", "--1", "١٢", "0x10"])
def test_non_integers_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        encode_value(YEAR, raw)
    assert caught.value.message == (
        f"value {raw!r} is not an integer for partition key 'year' (int)"
    )


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(-(2**63), 2**63 - 1))
def test_integer_encoding_preserves_order(a: int, b: int) -> None:
    ea, eb = encode_value(YEAR, str(a)), encode_value(YEAR, str(b))
    assert (ea < eb) == (a < b)
    assert (ea == eb) == (a == b)


def test_dates_encode_to_iso_form() -> None:
    assert encode_value(DT, "2024-02-29") == "2024-02-29"
    assert encode_value(DT, "0001-01-01") == "0001-01-01"


@pytest.mark.parametrize(
    "raw", ["2023-02-29", "2024-13-01", "2024-00-10", "0000-01-01", "2024-04-31"]
)
def test_impossible_dates_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput, match="is not a valid calendar date for partition key 'dt'"):
        encode_value(DT, raw)


@pytest.mark.parametrize(
    "raw", ["20240131", "2024-1-31", "2024-01-31T00:00", " 2024-01-31", "2024/01/31", "x"]
)
def test_malformed_dates_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput, match=r"is not a date \(YYYY-MM-DD\) for partition key 'dt'"):
        encode_value(DT, raw)


@given(st.dates(), st.dates())
def test_date_encoding_preserves_order(a: date, b: date) -> None:
    ea, eb = encode_value(DT, a.isoformat()), encode_value(DT, b.isoformat())
    assert (ea < eb) == (a < b)


def test_month_boundaries_order() -> None:
    day = date(2023, 12, 30)
    encoded = []
    for _ in range(70):
        encoded.append(encode_value(DT, day.isoformat()))
        day += timedelta(days=1)
    assert encoded == sorted(encoded)


@pytest.mark.parametrize("key", [REGION, SCORE, YEAR, DT])
def test_values_are_bounded_text(key: PartitionKey) -> None:
    with pytest.raises(InvalidInput, match="contains a control character"):
        encode_value(key, "a\tb")
    with pytest.raises(InvalidInput, match="longer than 1024 characters"):
        encode_value(key, "1" * 1025)


def test_lone_surrogates_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="not valid Unicode text"):
        encode_value(REGION, "a\ud800")


def test_encode_values_checks_the_count() -> None:
    keys = (YEAR, PartitionKey("month", KeyType.INTEGER), PartitionKey("day", KeyType.INTEGER))
    with pytest.raises(InvalidInput) as caught:
        encode_values(keys, ["2024", "1"])
    assert caught.value.message == (
        "expected 3 values for partition keys (year, month, day), got 2"
    )
    assert encode_values(keys, ["2024", "1", "31"]) == tuple(
        str(n + 2**63).zfill(20) for n in (2024, 1, 31)
    )


def test_encode_values_validates_each_value() -> None:
    with pytest.raises(InvalidInput, match="value 'x' is not an integer for partition key 'year'"):
        encode_values((REGION, YEAR), ["eu", "x"])


@pytest.mark.parametrize(
    ("key", "low", "high"),
    [(TINY, -128, 127), (SMALL, -32768, 32767)],
)
def test_small_integer_types_are_range_checked(key: PartitionKey, low: int, high: int) -> None:
    assert int(encode_value(key, str(low)) or "") == low + 2**63
    assert int(encode_value(key, str(high)) or "") == high + 2**63
    for raw in (str(low - 1), str(high + 1)):
        with pytest.raises(InvalidInput) as caught:
            encode_value(key, raw)
        assert caught.value.message == (
            f"value {raw!r} is out of the {key.key_type} range ({low} to {high}) "
            f"for partition key {key.name!r} ({key.key_type})"
        )


@pytest.mark.parametrize("key", [REGION, SCORE, YEAR, DT, PRICE, RATIO, AT, TINY, SMALL])
def test_the_default_partition_is_accepted_for_every_type(key: PartitionKey) -> None:
    assert encode_value(key, "__HIVE_DEFAULT_PARTITION__") is None


def test_decimals_compare_by_value() -> None:
    ordered = ["-100.5", "-1", "-0.51", "-0.5", "-1e-3", "0", "0.001", "9.5", "10", "10.25", "1e3"]
    encoded = [encode_value(PRICE, raw) for raw in ordered]
    assert encoded == sorted(encoded)  # type: ignore[type-var]
    assert len(set(encoded)) == len(encoded)
    # Equal numbers written differently encode alike, so '= 10' finds '10.0' too.
    assert encode_value(PRICE, "10") == encode_value(PRICE, "10.00") == encode_value(PRICE, "1e1")
    assert encode_value(PRICE, "0") == encode_value(PRICE, "-0.0")


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12
    ),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12
    ),
)
def test_decimal_encoding_preserves_order(a: Decimal, b: Decimal) -> None:
    ea, eb = encode_value(PRICE, str(a)), encode_value(PRICE, str(b))
    assert ea is not None and eb is not None
    assert (ea < eb) == (a < b)
    assert (ea == eb) == (a == b)


@given(st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_double_encoding_preserves_order(a: float, b: float) -> None:
    def written(x: float) -> str:
        return {float("inf"): "Infinity", float("-inf"): "-Infinity"}.get(x, repr(x))

    ea, eb = encode_value(RATIO, written(a)), encode_value(RATIO, written(b))
    assert ea is not None and eb is not None
    assert (ea < eb) == (a < b)
    assert (ea == eb) == (a == b)


def test_double_nan_sorts_last() -> None:
    assert (encode_value(RATIO, "NaN") or "") > (encode_value(RATIO, "Infinity") or "")


@pytest.mark.parametrize("raw", ["abc", "", " 1", "1_000", "1.2.3", "0x10", "\u0661", "1e", "NaN"])
def test_non_numbers_are_rejected_for_decimal_keys(raw: str) -> None:
    with pytest.raises(InvalidInput, match="is not a number for partition key 'price'"):
        encode_value(PRICE, raw)


def test_huge_exponents_are_out_of_range() -> None:
    with pytest.raises(InvalidInput, match="is out of range for partition key 'price'"):
        encode_value(PRICE, "1e99999")


def test_timestamps_compare_by_time() -> None:
    ordered = [
        "2023-12-31 23:59:59.999",
        "2024-01-01",
        "2024-01-01 00:00:00.000000001",
        "2024-01-01T00:00:01",
        "2024-01-01 09:00",
        "2024-01-01 10:00:00",
        "2024-01-01 10:00:00.5",
    ]
    encoded = [encode_value(AT, raw) for raw in ordered]
    assert encoded == sorted(encoded)  # type: ignore[type-var]
    assert encode_value(AT, "2024-01-01") == encode_value(AT, "2024-01-01 00:00:00.000")
    assert encode_value(AT, "2024-01-01 10:00:00.5") == "2024-01-01 10:00:00.500000000"


@pytest.mark.parametrize(
    "raw", ["2024-02-30 00:00:00", "2024-01-01 24:00:00", "2024-01-01 10:60", "x", "2024-01-01Z"]
)
def test_invalid_timestamps_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput, match="for partition key 'at' \\(timestamp\\)"):
        encode_value(AT, raw)
