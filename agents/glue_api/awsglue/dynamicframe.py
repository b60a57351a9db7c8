"""awsglue.dynamicframe: DynamicFrame and DynamicFrameCollection over Spark DataFrames.

A DynamicFrame here is a thin, immutable wrapper of a DataFrame: each method returns a new
frame. Paths are Glue's: `a.b` names field b of struct a; a name holding a dot is quoted with
backticks (`` `a.b` ``). Records handed to `filter` and `map` are plain dicts, which support
what Glue's DynamicRecord does (`rec["x"]`, assignment, `del`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from awsglue import choices
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StructField, StructType

if TYPE_CHECKING:
    from awsglue.context import GlueContext

Record = dict[str, Any]
# The member of a choice column holding the values of a type resolveChoice names.
_CHOICE_MEMBER = {
    "int": "long",
    "integer": "long",
    "bigint": "long",
    "short": "long",
    "byte": "long",
    "float": "double",
    "bool": "boolean",
}
# The row id column relationalize adds while it splits a frame.
_ROW_ID = "__sluice_row_id"
# Types apply_mapping leaves as they are: Glue's names for a nested value, not a cast.
_NESTED_TYPES = ("struct", "array", "map", "object")


def split_path(path: str) -> list[str]:
    """`a.b` -> [a, b]; `` `a.b`.c `` -> [a.b, c]."""
    parts: list[str] = []
    current = ""
    quoted = False
    for char in path:
        if char == "`":
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if quoted or any(not part for part in parts):
        raise ValueError(f"not a valid field path: {path!r}")
    return parts


def column(path: str) -> Column:
    """The Spark column a Glue path names."""
    return F.col(".".join("`" + part.replace("`", "``") + "`" for part in split_path(path)))


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class DynamicFrame:
    """A distributed collection of records (Glue's DynamicFrame), here over a DataFrame.

    Args:
        df: The records.
        glue_ctx: The GlueContext the frame belongs to.
        name: Its name, as in Glue.
    """

    def __init__(self, df: DataFrame, glue_ctx: GlueContext | None, name: str = "") -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    # Conversions

    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx: GlueContext | None, name: str) -> DynamicFrame:
        """The DataFrame's rows as a DynamicFrame."""
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options: Sequence[Any] | None = None) -> DataFrame:
        """The records as a DataFrame."""
        return self._df

    def _new(self, df: DataFrame, name: str = "") -> DynamicFrame:
        return DynamicFrame(df, self.glue_ctx, name or self.name)

    # Looking at it

    def count(self) -> int:
        return self._df.count()

    def schema(self) -> StructType:
        return self._df.schema

    def printSchema(self) -> None:
        self._df.printSchema()

    def show(self, num_rows: int = 20) -> None:
        self._df.show(num_rows, truncate=False)

    def getNumPartitions(self) -> int:
        return self._df.rdd.getNumPartitions()

    def errorsCount(self) -> int:
        """Records that failed to convert: none, as a DataFrame's rows all have its schema."""
        return 0

    def stageErrorsCount(self) -> int:
        return 0

    def errorsAsDynamicFrame(self) -> DynamicFrame:
        return self._new(self._df.limit(0).select())

    def assertErrorThreshold(self) -> None:
        """Glue raises when errors pass the threshold; there are none here."""

    # Fields

    def select_fields(
        self, paths: Sequence[str], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        """Only the named fields (a nested path keeps its parents around the field)."""
        return self._new(
            self._df.select(*_nested_columns([(split_path(p), column(p)) for p in paths]))
        )

    def drop_fields(
        self, paths: Sequence[str], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        """Every field but the named ones; missing ones are ignored, as in Glue."""
        df = self._df
        for path in paths:
            parts = split_path(path)
            if len(parts) == 1:
                df = df.drop(parts[0])
            elif _has_path(df.schema, parts):
                struct_path = parts[:-1]
                dropped = F.col(".".join(_quoted(p) for p in struct_path)).dropFields(
                    _quoted(parts[-1])
                )
                df = df.withColumn(parts[0], _replace_nested(struct_path, dropped))
        return self._new(df)

    def rename_field(
        self,
        oldName: str,
        newName: str,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        """The field at oldName moved to newName (a top-level name or a path in one struct)."""
        old = split_path(oldName)
        new = split_path(newName)
        if len(old) == 1 and len(new) == 1:
            return self._new(self._df.withColumnRenamed(old[0], new[0]))
        if old[:-1] != new[:-1]:
            raise ValueError("rename_field moves a field within its struct only")
        renamed = column(oldName)
        parent = F.col(".".join(_quoted(p) for p in old[:-1]))
        moved = parent.withField(_quoted(new[-1]), renamed).dropFields(_quoted(old[-1]))
        return self._new(self._df.withColumn(old[0], _replace_nested(old[:-1], moved)))

    def apply_mapping(
        self,
        mappings: Sequence[Sequence[Any]],
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        """Only the mapped fields, renamed and cast: (source, source type, target, target type).

        A dotted target builds nested structs; unmapped fields are dropped, as in Glue. A choice
        column cast to a type is resolved as `resolveChoice` `cast:` resolves it.
        """
        items: list[tuple[list[str], Column]] = []
        for mapping in mappings:
            if len(mapping) != 4:
                raise ValueError(
                    f"a mapping is (source, source type, target, target type): {mapping!r}"
                )
            source, _, target, target_type = mapping
            if not _has_path(self._df.schema, split_path(source), case_sensitive):
                # Glue maps a field no record has to nothing.
                continue
            value = column(source)
            if str(target_type).lower() not in _NESTED_TYPES:
                choice = _top_level_choice(self._df.schema, source, case_sensitive)
                kinds = choices.members(choice) if choice is not None else []
                value = (
                    F.coalesce(*[value[k].cast(str(target_type)) for k in kinds])
                    if kinds
                    else value.cast(str(target_type))
                )
            items.append((split_path(target), value))
        return self._new(self._df.select(*_nested_columns(items)))

    def resolveChoice(
        self,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        catalog_id: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        """Each field given one type: `cast:T` casts it (every member of a choice, the first
        that casts wins), `project:T` keeps the values of type T only, `make_cols` splits a
        choice into `f_<type>` columns, `make_struct` keeps it as a struct {type: value},
        `match_catalog` casts to the catalog table's types.

        Either specs [(path, action)] or one choice for every choice column; not both. A spec
        on a column that is not a choice casts it (cast, project), renames it to `f_<type>`
        (make_cols) or wraps it in a struct (make_struct).
        """
        if specs and choice:
            raise ValueError("resolveChoice takes specs or choice, not both")
        if not specs and not choice:
            raise ValueError("resolveChoice needs specs or choice")
        if choice == "match_catalog" or any(action == "match_catalog" for _, action in specs or ()):
            return self._match_catalog(database, table_name, catalog_id)
        df = self._df
        fields = specs or [(f.name, choice) for f in df.schema.fields if choices.is_choice(f)]
        for path, action in fields:
            parts = split_path(path)
            if len(parts) != 1 or parts[0] not in df.columns:
                continue
            df = _resolve(df, df.schema[parts[0]], action)
        return self._new(df)

    def _match_catalog(
        self, database: str | None, table_name: str | None, catalog_id: str | None
    ) -> DynamicFrame:
        if not database or not table_name or self.glue_ctx is None:
            raise ValueError("match_catalog needs database, table_name and a GlueContext")
        columns = self.glue_ctx.catalog_columns(database, table_name, catalog_id)
        df = self._df
        for name, type_name in columns.items():
            if name in df.columns:
                df = _resolve(df, df.schema[name], f"cast:{type_name}")
        return self._new(df)

    # Records

    def filter(
        self, f: Callable[[Record], bool], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        """The records for which f(record) is true."""
        schema = self._df.schema
        rows = self._df.rdd.filter(lambda row: bool(f(row.asDict(recursive=True))))
        return self._new(self._df.sparkSession.createDataFrame(rows, schema))

    def map(
        self, f: Callable[[Record], Record], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        """f applied to each record; the new records' schema is inferred from them."""
        records = self._df.rdd.map(lambda row: _to_row(f(row.asDict(recursive=True))))
        if records.isEmpty():
            return self._new(self._df.limit(0))
        return self._new(self._df.sparkSession.createDataFrame(records, samplingRatio=None))

    def join(
        self,
        paths1: Sequence[str] | str,
        paths2: Sequence[str] | str,
        frame2: DynamicFrame,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        """Records of both frames whose keys are equal (an inner equality join); both frames'
        fields are kept, the key of frame2 only once when it has the same name."""
        keys1 = [paths1] if isinstance(paths1, str) else list(paths1)
        keys2 = [paths2] if isinstance(paths2, str) else list(paths2)
        if len(keys1) != len(keys2) or not keys1:
            raise ValueError("join needs as many keys of each frame, at least one")
        left, right = self._df.alias("l"), frame2.toDF().alias("r")
        if keys1 == keys2:
            return self._new(left.join(right, on=keys1, how="inner"))
        condition = None
        for key1, key2 in zip(keys1, keys2, strict=True):
            clause = F.col("l." + ".".join(map(_quoted, split_path(key1)))) == F.col(
                "r." + ".".join(map(_quoted, split_path(key2)))
            )
            condition = clause if condition is None else condition & clause
        return self._new(left.join(right, on=condition, how="inner"))

    def union(
        self, other_frame: DynamicFrame, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        """The records of both frames; a field only one has is null in the other's records, a
        field of different types in each becomes a choice of those types."""
        left, right = choices.union_with_choices(self._df, other_frame.toDF())
        return self._new(left.unionByName(right, allowMissingColumns=True))

    def drop_null_fields(self, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        """Without the fields that are null in every record."""
        df = self._df
        if not df.columns:
            return self
        counts = df.select([F.count(F.col(_quoted(c))).alias(c) for c in df.columns]).first()
        null_only = [c for c in df.columns if counts is None or counts[c] == 0]
        return self._new(df.drop(*null_only))

    def unnest(self, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        """Nested struct fields as top-level fields named by their path (`a.b`)."""
        return self._new(self._df.select(*_flat_columns(self._df.schema, [])))

    def relationalize(
        self,
        root_table_name: str,
        staging_path: str = "",
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrameCollection:
        """The frame as flat tables, as Glue's Relationalize makes them.

        Structs are flattened into `a.b` columns. Each array becomes a table of its own,
        `<parent>_<column>` with columns `id` (the value left in the parent's column), `index`
        (the element's position) and `<column>.val` (a scalar element) or `<column>.val.<f>`
        (a struct element's fields); arrays within arrays recurse. staging_path is accepted
        for Glue's signature; nothing is staged.
        """
        tables: dict[str, DynamicFrame] = {}
        _relationalize(self._df, root_table_name, tables, self)
        return DynamicFrameCollection(tables, self.glue_ctx)

    def split_fields(
        self, paths: Sequence[str], name1: str, name2: str, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrameCollection:
        """The named fields in frame name1, the others in frame name2."""
        return DynamicFrameCollection(
            {name1: self.select_fields(paths), name2: self.drop_fields(paths)}, self.glue_ctx
        )

    def split_rows(
        self,
        comparison_dict: Mapping[str, Mapping[str, Any]],
        name1: str,
        name2: str,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrameCollection:
        """Records matching every comparison ({path: {"<": 10, ">=": 2, ...}}) in name1."""
        operators: dict[str, Callable[[Column, Any], Column]] = {
            "=": lambda c, v: c == v,
            "!=": lambda c, v: c != v,
            "<": lambda c, v: c < v,
            "<=": lambda c, v: c <= v,
            ">": lambda c, v: c > v,
            ">=": lambda c, v: c >= v,
        }
        condition = F.lit(True)
        for path, comparisons in comparison_dict.items():
            for operator, value in comparisons.items():
                condition = condition & operators[operator](column(path), value)
        matched = F.coalesce(condition, F.lit(False))
        return DynamicFrameCollection(
            {
                name1: self._new(self._df.filter(matched)),
                name2: self._new(self._df.filter(~matched)),
            },
            self.glue_ctx,
        )

    def repartition(
        self, num_partitions: int, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        return self._new(self._df.repartition(num_partitions))

    def coalesce(
        self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._new(df)

    def __repr__(self) -> str:
        return f"DynamicFrame(name={self.name!r}, schema={self._df.schema.simpleString()})"


class DynamicFrameCollection:
    """Named DynamicFrames, as transforms that produce several frames return them."""

    def __init__(
        self, dynamic_frames: Mapping[str, DynamicFrame], glue_ctx: GlueContext | None
    ) -> None:
        self._frames = dict(dynamic_frames)
        self.glue_ctx = glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def keys(self) -> Iterable[str]:
        return self._frames.keys()

    def values(self) -> Iterable[DynamicFrame]:
        return self._frames.values()

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        return self._frames[key]

    def map(
        self, callable: Callable[[DynamicFrame, str], DynamicFrame], transformation_ctx: str = ""
    ) -> DynamicFrameCollection:
        return DynamicFrameCollection(
            {key: callable(frame, transformation_ctx) for key, frame in self._frames.items()},
            self.glue_ctx,
        )

    def flatmap(
        self, f: Callable[[DynamicFrame, str], Any], transformation_ctx: str = ""
    ) -> DynamicFrameCollection:
        frames: dict[str, DynamicFrame] = {}
        for key, frame in self._frames.items():
            result = f(frame, transformation_ctx)
            if isinstance(result, DynamicFrameCollection):
                frames.update({f"{key}_{k}": result[k] for k in result})
            else:
                frames[key] = result
        return DynamicFrameCollection(frames, self.glue_ctx)


def _relationalize(
    df: DataFrame, name: str, tables: dict[str, DynamicFrame], origin: DynamicFrame
) -> None:
    flat = df.select(*_flat_columns(df.schema, []))
    arrays = [f.name for f in flat.schema.fields if isinstance(f.dataType, ArrayType)]
    if not arrays:
        tables[name] = origin._new(flat, name)
        return
    # Materialised, so the ids of the parent and of its children's rows agree.
    flat = flat.withColumn(_ROW_ID, F.monotonically_increasing_id()).localCheckpoint()
    parent = flat
    for array in arrays:
        parent = parent.withColumn(array, F.when(F.col(_quoted(array)).isNotNull(), F.col(_ROW_ID)))
        child = flat.select(
            F.col(_ROW_ID).alias("id"), F.posexplode(F.col(_quoted(array))).alias("index", "val")
        )
        child = child.select("id", "index", F.col("val").alias(f"{array}.val"))
        _relationalize(child, f"{name}_{array}", tables, origin)
    tables[name] = origin._new(parent.drop(_ROW_ID), name)


def _resolve(df: DataFrame, field: StructField, action: str) -> DataFrame:
    """df with column field resolved by one of resolveChoice's actions."""
    name = field.name
    column = F.col(_quoted(name))
    kind, _, type_name = action.partition(":")
    if kind not in ("cast", "project", "make_cols", "make_struct"):
        raise ValueError(f"unknown resolveChoice action {action!r}")
    if not choices.is_choice(field):
        current = _glue_type(field.dataType.simpleString())
        if kind in ("cast", "project"):
            return df.withColumn(name, column.cast(type_name))
        if kind == "make_cols":
            return df.withColumnRenamed(name, f"{name}_{current}")
        return df.withColumn(name, F.struct(column.alias(current)))
    kinds = choices.members(field)
    if kind == "cast":
        return df.withColumn(name, F.coalesce(*[column[k].cast(type_name) for k in kinds]))
    if kind == "project":
        wanted = type_name.lower()
        if wanted not in kinds:
            wanted = _CHOICE_MEMBER.get(wanted, wanted)
        kept = column[wanted] if wanted in kinds else F.lit(None)
        return df.withColumn(name, kept.cast(type_name))
    if kind == "make_struct":
        return df.withColumn(name, column.alias(name, metadata={choices.CHOICE: False}))
    position = df.columns.index(name)
    split = [column[k].alias(f"{name}_{k}") for k in kinds]
    others = [F.col(_quoted(c)) for c in df.columns]
    return df.select(*others[:position], *split, *others[position + 1 :])


def _glue_type(simple: str) -> str:
    return {"bigint": "long", "smallint": "short", "tinyint": "byte"}.get(simple, simple)


def _to_row(record: Mapping[str, Any]) -> Row:
    return Row(**{key: _to_row(v) if isinstance(v, Mapping) else v for key, v in record.items()})


def _top_level_choice(
    schema: StructType, path: str, case_sensitive: bool = False
) -> StructField | None:
    """The choice column a path names, if it names one at the top level."""
    parts = split_path(path)
    if len(parts) != 1:
        return None
    for field in schema.fields:
        same = field.name == parts[0] or (
            not case_sensitive and field.name.lower() == parts[0].lower()
        )
        if same and choices.is_choice(field):
            return field
    return None


def _has_path(schema: DataType, parts: Sequence[str], case_sensitive: bool = False) -> bool:
    current: DataType = schema
    for part in parts:
        if not isinstance(current, StructType):
            return False
        match = [
            f
            for f in current.fields
            if f.name == part or (not case_sensitive and f.name.lower() == part.lower())
        ]
        if not match:
            return False
        current = match[0].dataType
    return True


def _replace_nested(struct_path: Sequence[str], value: Column) -> Column:
    """The top-level column struct_path[0] with the struct at struct_path replaced by value."""
    if len(struct_path) == 1:
        return value
    top = F.col(_quoted(struct_path[0]))
    inner = ".".join(_quoted(p) for p in struct_path[1:])
    return top.withField(inner, value)


def _nested_columns(items: Sequence[tuple[list[str], Column]]) -> list[Column]:
    """Columns for (path, value) pairs: a path of several parts becomes nested structs."""
    order: list[str] = []
    leaves: dict[str, Column] = {}
    groups: dict[str, list[tuple[list[str], Column]]] = {}
    for parts, value in items:
        head = parts[0]
        if head not in order:
            order.append(head)
        if len(parts) == 1:
            leaves[head] = value
        else:
            groups.setdefault(head, []).append((parts[1:], value))
    columns = []
    for head in order:
        if head in groups:
            columns.append(F.struct(*_nested_columns(groups[head])).alias(head))
        else:
            columns.append(leaves[head].alias(head))
    return columns


def _flat_columns(schema: StructType, prefix: list[str]) -> list[Column]:
    columns: list[Column] = []
    for field in schema.fields:
        path = [*prefix, field.name]
        if isinstance(field.dataType, StructType):
            columns.extend(_flat_columns(field.dataType, path))
        else:
            columns.append(F.col(".".join(map(_quoted, path))).alias(".".join(path)))
    return columns


__all__ = ["DynamicFrame", "DynamicFrameCollection", "column", "split_path"]
