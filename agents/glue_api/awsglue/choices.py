"""Choice types: a field whose records hold values of different types (1 in one record, "1" or
"n/a" in another), as Glue's DynamicFrames keep them until resolveChoice.

Spark infers such a field as a string. Reading JSON, a sample of the records is probed for
each string field's JSON types; reading CSV (types inferred), for the kinds of text each string
column holds (whole numbers, other numbers, true/false, other text). A field found with more
than one becomes a choice column: a struct with one member per type (`long`, `double`,
`boolean`, `string`), exactly one of them set in each record, marked as a choice in its
metadata. A union of frames whose field has different types (or choices of different members)
makes it a choice of their types too. resolveChoice turns it into one column.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

# Marks a choice column in its field's metadata.
CHOICE = "sluice.glue.choice"
# Records probed for the types of each field (the probe costs about 0.2 s per 10,000 records;
# a kind the sample misses is kept in the string member, never lost).
SAMPLE_RECORDS = 1_000
# The JSON types a value may have, in the order a choice's members take, with Spark's type.
_KINDS: tuple[tuple[str, DataType], ...] = (
    ("long", LongType()),
    ("double", DoubleType()),
    ("boolean", BooleanType()),
)


def is_choice(field: StructField) -> bool:
    return bool(field.metadata.get(CHOICE))


def members(field: StructField) -> list[str]:
    """The types a choice column holds (its struct's member names)."""
    data_type = field.dataType
    return [f.name for f in data_type.fields] if isinstance(data_type, StructType) else []


def json_with_choices(
    spark: SparkSession, df: DataFrame, paths: Sequence[str], options: dict[str, str]
) -> DataFrame:
    """df (read from the JSON files at paths), its mixed-type fields as choice columns."""
    if options.get("multiLine", "false").lower() == "true":
        return df
    text = spark.read.options(**options).text(list(paths))
    partition_columns = [c for c in text.columns if c != "value"]
    candidates = [
        f.name
        for f in df.schema.fields
        if isinstance(f.dataType, StringType) and f.name not in partition_columns
    ]
    if not candidates:
        return df
    kinds = (*[k for k, _ in _KINDS], "string")
    seen = _sampled_kinds(text, [_kind_of(name) for name in candidates])
    choices = {
        name: _members([kind for kind in kinds if kind in seen[i]])
        for i, name in enumerate(candidates)
    }
    choices = {name: found for name, found in choices.items() if found}
    if not choices:
        return df
    data_fields = [f for f in df.schema.fields if f.name not in partition_columns]
    parsed = F.from_json(F.col("value"), StructType(data_fields))
    columns: list[Column] = []
    for field in data_fields:
        if field.name in choices:
            columns.append(_choice_column(field.name, parsed, choices[field.name]))
        else:
            columns.append(parsed[field.name].alias(field.name))
    return text.select(*columns, *[F.col(c) for c in partition_columns])


def csv_with_choices(df: DataFrame) -> DataFrame:
    """df (read from CSV with types inferred), its string columns of mixed kinds of text as
    choice columns."""
    candidates = [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]
    if not candidates:
        return df
    kinds = (*[k for k, _ in _KINDS], "string")
    seen = _sampled_kinds(df, [_text_kind(F.col(_quoted(n))) for n in candidates])
    choices = {
        name: _members([kind for kind in kinds if kind in seen[i]])
        for i, name in enumerate(candidates)
    }
    choices = {name: found for name, found in choices.items() if found}
    if not choices:
        return df
    types = dict(_KINDS)
    columns: list[Column] = []
    for field in df.schema.fields:
        value = F.col(_quoted(field.name))
        if field.name not in choices:
            columns.append(value)
            continue
        kind = _text_kind(value)
        typed = [k for k in choices[field.name] if k != "string"]
        members = [
            F.when(kind == F.lit(k), F.trim(value).cast(types[k]))
            .otherwise(F.lit(None).cast(types[k]))
            .alias(k)
            for k in typed
        ]
        # Text of any other kind (also one the sample did not see) stays as it is.
        members.append(F.when(~kind.isin(*typed), value).alias("string"))
        columns.append(F.struct(*members).alias(field.name, metadata={CHOICE: True}))
    return df.select(*columns)


def _text_kind(value: Column) -> Column:
    """The kind of text a CSV value is: long (a whole number that fits), double (another number),
    boolean (true or false), string; null for null."""
    text = F.trim(value)
    return (
        F.when(value.isNull(), F.lit(None).cast("string"))
        .when(text.rlike(r"^[+-]?[0-9]+$") & text.cast("long").isNotNull(), F.lit("long"))
        .when(text.rlike(r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"), F.lit("double"))
        .when(F.lower(text).isin("true", "false"), F.lit("boolean"))
        .otherwise(F.lit("string"))
    )


def _sampled_kinds(df: DataFrame, kinds: Sequence[Column]) -> list[set[str]]:
    """The values each of kinds (a kind of each record) takes in df's first SAMPLE_RECORDS
    records: one driver-side take, which reads the first partition(s) only (no shuffle, no
    aggregate, no pass over the whole input)."""
    named = df.select(*[kind.alias(f"k{i}") for i, kind in enumerate(kinds)])
    rows = named.limit(SAMPLE_RECORDS).collect()
    return [{row[i] for row in rows} - {None} for i in range(len(kinds))]


def _members(found: list[str]) -> list[str]:
    """The members of a choice of the kinds found (none if fewer than two): always with a
    string member, where values of a kind the sample did not see are kept as text."""
    if len(found) < 2:
        return []
    return found if "string" in found else [*found, "string"]


def type_name(data_type: DataType) -> str:
    """Glue's name of a type, as a choice's member is named (long, int, string, ...)."""
    simple = data_type.simpleString()
    return {"bigint": "long", "smallint": "short", "tinyint": "byte"}.get(simple, simple)


def union_with_choices(left: DataFrame, right: DataFrame) -> tuple[DataFrame, DataFrame]:
    """left and right, each field they both have with different types made a choice of those
    types in both (members of a choice already there kept), so that they union by name."""
    theirs = {f.name: f for f in right.schema.fields}
    mixed: dict[str, dict[str, DataType]] = {}
    for field in left.schema.fields:
        other = theirs.get(field.name)
        if other is None or (
            field.dataType == other.dataType and is_choice(field) == is_choice(other)
        ):
            continue
        merged = {**_member_types(field), **_member_types(other)}
        if len(merged) > 1:
            mixed[field.name] = merged
    if not mixed:
        return left, right
    return _as_choices(left, mixed), _as_choices(right, mixed)


def _member_types(field: StructField) -> dict[str, DataType]:
    """The types a field's values have: a choice's members, else its own type."""
    if is_choice(field) and isinstance(field.dataType, StructType):
        return {m.name: m.dataType for m in field.dataType.fields}
    return {type_name(field.dataType): field.dataType}


def _as_choices(df: DataFrame, mixed: dict[str, dict[str, DataType]]) -> DataFrame:
    columns: list[Column] = []
    for field in df.schema.fields:
        value = F.col(_quoted(field.name))
        if field.name not in mixed:
            columns.append(value)
            continue
        own = _member_types(field)
        choice = is_choice(field)
        members = [
            (value[member] if choice else value).alias(member)
            if member in own
            else F.lit(None).cast(data_type).alias(member)
            for member, data_type in mixed[field.name].items()
        ]
        columns.append(F.struct(*members).alias(field.name, metadata={CHOICE: True}))
    return df.select(*columns)


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _kind_of(name: str) -> Column:
    """The JSON type of field name's value in each record: long, double, boolean, string, or
    null when it is absent or null."""
    kind = F.lit(None).cast("string")
    for label, data_type in reversed(_KINDS):
        probe = F.from_json(F.col("value"), StructType([StructField(name, data_type)]))[name]
        kind = F.when(probe.isNotNull(), F.lit(label)).otherwise(kind)
    text = F.from_json(F.col("value"), StructType([StructField(name, StringType())]))[name]
    return F.when(kind.isNotNull(), kind).when(text.isNotNull(), F.lit("string"))


def _choice_column(name: str, parsed: Column, kinds: list[str]) -> Column:
    kind = _kind_of(name)
    value = parsed[name]
    types = dict(_KINDS)
    typed = [k for k in kinds if k != "string"]
    fields = [F.when(kind == F.lit(k), value.cast(types[k])).alias(k) for k in typed]
    # A value of any other type (also one the sample did not see) stays, as its JSON text.
    fields.append(F.when(~kind.isin(*typed), value).alias("string"))
    return F.struct(*fields).alias(name, metadata={CHOICE: True})
