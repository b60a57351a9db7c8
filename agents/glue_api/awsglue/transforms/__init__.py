"""awsglue.transforms: Glue's transform classes, each `Name.apply(frame=..., ...)` or
`Name()(frame, ...)`, returning a DynamicFrame (a DynamicFrameCollection for the splitting ones).

`transformation_ctx` is accepted everywhere; bookmarks use the one given to a source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection, Record
from pyspark.sql import functions as F


class GlueTransform:
    """A transform: calling an instance (or `apply` on the class) transforms a frame."""

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


class ApplyMapping(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        mappings: Sequence[Sequence[Any]],
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx)


class SelectFields(GlueTransform):
    def __call__(
        self, frame: DynamicFrame, paths: Sequence[str], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        return frame.select_fields(paths, transformation_ctx)


class DropFields(GlueTransform):
    def __call__(
        self, frame: DynamicFrame, paths: Sequence[str], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        return frame.drop_fields(paths, transformation_ctx)


class RenameField(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        old_name: str,
        new_name: str,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        return frame.rename_field(old_name, new_name, transformation_ctx)


class Filter(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        f: Callable[[Record], bool],
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        return frame.filter(f, transformation_ctx)


class Map(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        f: Callable[[Record], Record],
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        return frame.map(f, transformation_ctx)


class Join(GlueTransform):
    def __call__(
        self,
        frame1: DynamicFrame,
        frame2: DynamicFrame,
        keys1: Sequence[str] | str,
        keys2: Sequence[str] | str,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        return frame1.join(keys1, keys2, frame2, transformation_ctx)


class ResolveChoice(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        catalog_id: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        return frame.resolveChoice(
            specs, choice, database, table_name, transformation_ctx, catalog_id
        )


class DropNullFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.drop_null_fields(transformation_ctx)


class UnnestFrame(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.unnest(transformation_ctx)


class Union(GlueTransform):
    def __call__(
        self, frame1: DynamicFrame, frame2: DynamicFrame, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        return frame1.union(frame2, transformation_ctx)


class SplitFields(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        paths: Sequence[str],
        name1: str | None = None,
        name2: str | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrameCollection:
        first = name1 or f"{frame.name or 'frame'}1"
        second = name2 or f"{frame.name or 'frame'}2"
        return frame.split_fields(paths, first, second, transformation_ctx)


class SplitRows(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        comparison_dict: Mapping[str, Mapping[str, Any]],
        name1: str | None = None,
        name2: str | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrameCollection:
        first = name1 or f"{frame.name or 'frame'}1"
        second = name2 or f"{frame.name or 'frame'}2"
        return frame.split_rows(comparison_dict, first, second, transformation_ctx)


class Relationalize(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        staging_path: str = "",
        name: str = "roottable",
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrameCollection:
        return frame.relationalize(name, staging_path, options, transformation_ctx)


class Unbox(GlueTransform):
    """A string field holding JSON parsed into the struct it holds (format "json" only)."""

    def __call__(
        self,
        frame: DynamicFrame,
        path: str,
        format: str = "json",
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        if format != "json":
            raise ValueError("Unbox supports format='json'")
        df = frame.toDF()
        sample = df.select(path).where(F.col(path).isNotNull()).limit(1000)
        schema = df.sparkSession.read.json(sample.rdd.map(lambda row: row[0])).schema
        return DynamicFrame(
            df.withColumn(path, F.from_json(F.col(path), schema)), frame.glue_ctx, frame.name
        )


__all__ = [
    "ApplyMapping",
    "DropFields",
    "DropNullFields",
    "Filter",
    "GlueTransform",
    "Join",
    "Map",
    "Relationalize",
    "RenameField",
    "ResolveChoice",
    "SelectFields",
    "SplitFields",
    "SplitRows",
    "Unbox",
    "Union",
    "UnnestFrame",
]
