"""Sluice's awsglue API on a local PySpark: getResolvedOptions, DynamicFrame, the transforms,
file sources and sinks, and bookmarks' choice of files. One SparkSession for the module (here,
not in tests/unit, which stays fast: a Spark session takes seconds to start)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import Row, SparkSession

from sluice.agents.glue_api import PATH

if PATH not in sys.path:
    sys.path.insert(0, PATH)

from awsglue import choices
from awsglue.bookmarks import Bookmarks, InputFile
from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame, split_path
from awsglue.transforms import (
    ApplyMapping,
    DropFields,
    DropNullFields,
    Filter,
    Join,
    Map,
    Relationalize,
    RenameField,
    ResolveChoice,
    SelectFields,
    SplitFields,
    SplitRows,
    Union,
    UnnestFrame,
)
from awsglue.utils import GlueArgumentError, getResolvedOptions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def glue() -> Iterator[GlueContext]:
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("test-awsglue")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    context = GlueContext(spark.sparkContext)
    yield context
    spark.stop()


def _frame(glue: GlueContext, rows: list[Row], name: str = "f") -> DynamicFrame:
    return DynamicFrame.fromDF(glue.spark_session.createDataFrame(rows), glue, name)


def _rows(frame: DynamicFrame) -> list[dict]:
    return [row.asDict(recursive=True) for row in frame.toDF().collect()]


# getResolvedOptions


def test_resolved_options_include_glue_reserved_arguments() -> None:
    argv = ["script.py", "--JOB_NAME", "daily", "--JOB_RUN_ID", "jr_1", "--day=2024-05-01"]
    args = getResolvedOptions(argv, ["JOB_NAME", "day"])
    assert args["JOB_NAME"] == "daily"
    assert args["day"] == "2024-05-01"
    assert args["JOB_RUN_ID"] == "jr_1"
    assert args["job_bookmark_option"] == "job-bookmark-disable"
    assert args["TempDir"] is None


def test_resolved_options_bookmark_option_is_checked_and_reserved() -> None:
    argv = ["s.py", "--job-bookmark-option", "job-bookmark-enable"]
    assert getResolvedOptions(argv, [])["job_bookmark_option"] == "job-bookmark-enable"
    with pytest.raises(GlueArgumentError, match="invalid choice"):
        getResolvedOptions(["s.py", "--job-bookmark-option", "on"], [])
    with pytest.raises(GlueArgumentError, match="reserved"):
        getResolvedOptions(argv, ["job-bookmark-option"])
    with pytest.raises(GlueArgumentError, match="--missing"):
        getResolvedOptions(argv, ["missing"])


# SparkContext() in a process whose Spark has started (as in a Sluice run)


def test_spark_context_constructor_adopts_the_active_context(glue: GlueContext) -> None:
    from pyspark.context import SparkContext

    assert SparkContext() is glue.spark_session.sparkContext


# DynamicFrame


def test_from_df_to_df_count_schema(glue: GlueContext) -> None:
    frame = _frame(glue, [Row(id=1, name="a"), Row(id=2, name="b")])
    assert frame.count() == 2
    assert [f.name for f in frame.schema().fields] == ["id", "name"]
    assert frame.toDF().count() == 2
    assert frame.errorsCount() == 0


def test_apply_mapping_renames_casts_nests_and_drops_unmapped(glue: GlueContext) -> None:
    frame = _frame(glue, [Row(id="7", name="ann", city="Oslo", extra=1)])
    mapped = ApplyMapping.apply(
        frame=frame,
        mappings=[
            ("id", "string", "customer_id", "long"),
            ("name", "string", "person.name", "string"),
            ("city", "string", "person.city", "string"),
            ("absent", "string", "absent", "string"),
        ],
        transformation_ctx="map",
    )
    assert mapped.toDF().schema.simpleString() == (
        "struct<customer_id:bigint,person:struct<name:string,city:string>>"
    )
    assert _rows(mapped) == [{"customer_id": 7, "person": {"name": "ann", "city": "Oslo"}}]


def test_select_drop_and_rename_fields(glue: GlueContext) -> None:
    frame = _frame(glue, [Row(a=1, b=2, s=Row(x=1, y=2))])
    assert SelectFields.apply(frame=frame, paths=["a", "s.x"]).toDF().columns == ["a", "s"]
    assert _rows(SelectFields.apply(frame=frame, paths=["s.x"])) == [{"s": {"x": 1}}]
    assert _rows(DropFields.apply(frame=frame, paths=["b", "s.y", "nope"])) == [
        {"a": 1, "s": {"x": 1}}
    ]
    assert RenameField.apply(frame=frame, old_name="a", new_name="c").toDF().columns == [
        "c",
        "b",
        "s",
    ]
    renamed = frame.rename_field("s.x", "s.z")
    assert _rows(renamed)[0]["s"] == {"y": 2, "z": 1}


def test_paths_with_backticks() -> None:
    assert split_path("`a.b`.c") == ["a.b", "c"]
    with pytest.raises(ValueError):
        split_path("a..b")


def test_filter_and_map_see_records_as_dicts(glue: GlueContext) -> None:
    frame = _frame(glue, [Row(id=1, v=10), Row(id=2, v=20), Row(id=3, v=30)])
    kept = Filter.apply(frame=frame, f=lambda r: r["v"] >= 20)
    assert sorted(r["id"] for r in _rows(kept)) == [2, 3]

    def double(record: dict) -> dict:
        record["v2"] = record["v"] * 2
        del record["v"]
        return record

    assert sorted(_rows(Map.apply(frame=frame, f=double)), key=lambda r: r["id"])[0] == {
        "id": 1,
        "v2": 20,
    }
    assert Map.apply(frame=Filter.apply(frame=frame, f=lambda r: False), f=double).count() == 0


def test_join_union_and_drop_null_fields(glue: GlueContext) -> None:
    people = _frame(glue, [Row(id=1, name="ann"), Row(id=2, name="bob")])
    orders = _frame(glue, [Row(person_id=1, total=5.0), Row(person_id=1, total=7.0)])
    joined = Join.apply(frame1=people, frame2=orders, keys1="id", keys2="person_id")
    assert joined.count() == 2
    assert set(joined.toDF().columns) == {"id", "name", "person_id", "total"}
    both = Union.apply(frame1=people, frame2=orders)
    assert both.count() == 4
    nulls = glue.spark_session.createDataFrame([(1, None), (2, None)], "a int, b string")
    dropped = DropNullFields.apply(frame=DynamicFrame.fromDF(nulls, glue, "n"))
    assert dropped.toDF().columns == ["a"]


def test_resolve_choice(glue: GlueContext) -> None:
    frame = _frame(glue, [Row(price="1.5", qty=2), Row(price="x", qty=3)])
    cast = ResolveChoice.apply(frame=frame, specs=[("price", "cast:double")])
    assert [r["price"] for r in _rows(cast)] == [1.5, None]
    cols = frame.resolveChoice(specs=[("qty", "make_cols")])
    assert cols.toDF().columns == ["price", "qty_long"]
    struct = frame.resolveChoice(specs=[("price", "make_struct"), ("qty", "make_struct")])
    assert _rows(struct)[0] == {"price": {"string": "1.5"}, "qty": {"long": 2}}
    # choice= applies to choice columns only: these are not.
    assert _rows(frame.resolveChoice(choice="make_struct")) == _rows(frame)
    with pytest.raises(ValueError):
        frame.resolveChoice(specs=[("qty", "cast:int")], choice="make_cols")


def test_unnest_and_splits(glue: GlueContext) -> None:
    frame = _frame(glue, [Row(id=1, s=Row(x=1, y=Row(z=2))), Row(id=5, s=Row(x=3, y=Row(z=4)))])
    assert UnnestFrame.apply(frame=frame).toDF().columns == ["id", "s.x", "s.y.z"]
    split = SplitFields.apply(frame=frame, paths=["id"], name1="ids", name2="rest")
    assert split["ids"].toDF().columns == ["id"]
    assert split["rest"].toDF().columns == ["s"]
    rows = SplitRows.apply(
        frame=frame, comparison_dict={"id": {">": 2}}, name1="big", name2="small"
    )
    assert rows["big"].count() == 1 and rows["small"].count() == 1


# File sources and sinks


def test_csv_in_partitioned_parquet_out(glue: GlueContext, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.csv").write_text("id,region,amount\n1,eu,2.5\n2,us,4.0\n")
    frame = glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [str(source)]},
        format="csv",
        format_options={"withHeader": True},
    )
    assert frame.count() == 2
    out = tmp_path / "out"
    glue.write_dynamic_frame.from_options(
        frame=frame,
        connection_type="s3",
        connection_options={"path": str(out), "partitionKeys": ["region"]},
        format="parquet",
    )
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["region=eu", "region=us"]
    back = glue.create_data_frame.from_options(
        connection_type="s3", connection_options={"paths": [str(out)]}, format="parquet"
    )
    assert sorted(r["region"] for r in back.collect()) == ["eu", "us"]


def test_bookmarked_source_reads_only_new_or_changed_files(
    glue: GlueContext, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "1.json").write_text('{"id": 1}\n')
    first = Bookmarks.from_json("job-bookmark-enable", "")
    glue.bookmarks = first
    try:
        frame = glue.create_dynamic_frame.from_options(
            "s3", {"paths": [str(source)]}, "json", transformation_ctx="src"
        )
        assert frame.count() == 1
        document = first.document()

        (source / "2.json").write_text('{"id": 2}\n')
        glue.bookmarks = Bookmarks.from_json("job-bookmark-enable", document)
        again = glue.create_dynamic_frame.from_options(
            "s3", {"paths": [str(source)]}, "json", transformation_ctx="src"
        )
        assert [r["id"] for r in _rows(again)] == [2]

        # Nothing new: an empty frame with the source's schema.
        glue.bookmarks = Bookmarks.from_json("job-bookmark-pause", glue.bookmarks.document())
        empty = glue.create_dynamic_frame.from_options(
            "s3", {"paths": [str(source)]}, "json", transformation_ctx="src"
        )
        assert empty.count() == 0 and empty.toDF().columns == ["id"]
        # Another context, or none, reads everything.
        assert (
            glue.create_dynamic_frame.from_options("s3", {"paths": [str(source)]}, "json").count()
            == 2
        )
    finally:
        glue.bookmarks = Bookmarks()


def test_bookmarks_pause_records_nothing_and_changed_files_count_as_new() -> None:
    files = [InputFile("file:/d/a", 1), InputFile("file:/d/b", 2)]
    paused = Bookmarks.from_json("job-bookmark-pause", "")
    assert paused.unprocessed("ctx", files) == files
    assert paused.read == {}
    enabled = Bookmarks.from_json("job-bookmark-enable", "")
    enabled.unprocessed("ctx", files)
    later = Bookmarks.from_json("job-bookmark-enable", enabled.document())
    touched = [InputFile("file:/d/a", 5), InputFile("file:/d/b", 2)]
    assert later.unprocessed("ctx", touched) == [InputFile("file:/d/a", 5)]
    assert (
        Bookmarks.from_json("job-bookmark-disable", enabled.document()).unprocessed("ctx", touched)
        == touched
    )


def test_file_listing_skips_hidden_and_marker_files(glue: GlueContext, tmp_path: Path) -> None:
    (tmp_path / "k=1").mkdir()
    (tmp_path / "k=1" / "part-0.json").write_text("{}\n")
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".part-0.json.crc").write_text("")
    before = time.time() * 1000
    os.utime(tmp_path / "k=1" / "part-0.json")
    listed = glue.list_files(str(tmp_path))
    assert [Path(f.path.removeprefix("file:")).name for f in listed] == ["part-0.json"]
    assert listed[0].modified_ms >= before - 2000


def test_a_source_with_nothing_new_writes_nothing_and_fails_nothing(
    glue: GlueContext, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "1.json").write_text('{"id": 1, "day": "d1"}\n')
    seen = Bookmarks.from_json("job-bookmark-enable", "")
    seen.unprocessed("src", glue.list_files(str(source)))
    glue.bookmarks = Bookmarks.from_json("job-bookmark-enable", seen.document())
    try:
        empty = glue.create_dynamic_frame.from_options(
            "s3", {"paths": [str(source)]}, "json", transformation_ctx="src"
        )
        out = tmp_path / "out"
        glue.write_dynamic_frame.from_options(
            frame=empty,
            connection_type="s3",
            connection_options={"path": str(out), "partitionKeys": ["day"]},
            format="parquet",
        )
        assert not [p for p in out.glob("day=*")]
    finally:
        glue.bookmarks = Bookmarks()


def test_relationalize_flattens_structs_and_pivots_arrays(glue: GlueContext) -> None:
    people = glue.spark_session.createDataFrame(
        [
            Row(id=1, name=Row(first="ann", last="lee"), phones=["1", "2"], homes=[Row(city="x")]),
            Row(id=2, name=Row(first="bob", last="ray"), phones=[], homes=None),
        ],
        "id int, name struct<first:string,last:string>, phones array<string>, "
        "homes array<struct<city:string>>",
    )
    tables = Relationalize.apply(
        frame=DynamicFrame.fromDF(people, glue, "people"), staging_path="", name="root"
    )
    assert sorted(tables.keys()) == ["root", "root_homes", "root_phones"]
    root = {r["id"]: r for r in _rows(tables["root"])}
    assert set(root[1]) == {"id", "name.first", "name.last", "phones", "homes"}
    assert root[2]["homes"] is None
    phones = _rows(tables["root_phones"])
    assert sorted((r["index"], r["phones.val"]) for r in phones) == [(0, "1"), (1, "2")]
    assert {r["id"] for r in phones} == {root[1]["phones"]}
    homes = _rows(tables["root_homes"])
    assert homes == [{"id": root[1]["homes"], "index": 0, "homes.val.city": "x"}]


def test_json_fields_of_mixed_types_are_choices_until_resolved(
    glue: GlueContext, tmp_path: Path
) -> None:
    source = tmp_path / "mixed"
    source.mkdir()
    (source / "a.json").write_text(
        '{"id": 1, "price": 1, "name": "x"}\n'
        '{"id": 2, "price": "n/a", "name": "y"}\n'
        '{"id": 3, "price": 2.5, "name": null}\n'
    )
    frame = glue.create_dynamic_frame.from_options("s3", {"paths": [str(source)]}, "json")
    price = frame.schema()["price"]
    assert price.metadata.get("sluice.glue.choice") is True
    assert price.dataType.simpleString() == "struct<long:bigint,double:double,string:string>"
    assert frame.schema()["name"].dataType.simpleString() == "string"

    def by_id(resolved: DynamicFrame) -> list[dict]:
        return sorted(_rows(resolved), key=lambda r: r["id"])

    cast = ResolveChoice.apply(frame=frame, specs=[("price", "cast:double")])
    assert [r["price"] for r in by_id(cast)] == [1.0, None, 2.5]
    as_text = frame.resolveChoice(choice="cast:string")
    assert [r["price"] for r in by_id(as_text)] == ["1", "n/a", "2.5"]
    projected = frame.resolveChoice(specs=[("price", "project:int")])
    assert [r["price"] for r in by_id(projected)] == [1, None, None]
    cols = frame.resolveChoice(specs=[("price", "make_cols")])
    assert cols.toDF().columns == ["id", "name", "price_long", "price_double", "price_string"]
    assert [r["price_string"] for r in by_id(cols)] == [None, "n/a", None]
    struct = frame.resolveChoice(specs=[("price", "make_struct")])
    assert not struct.schema()["price"].metadata.get("sluice.glue.choice")


def test_csv_columns_of_mixed_kinds_of_text_are_choices(glue: GlueContext, tmp_path: Path) -> None:
    source = tmp_path / "mixed.csv"
    source.write_text(
        "id,qty,flag,name,score\n1,2,true,x,1.5\n2,n/a,false,y,2\n3,4,maybe,,3.25\n4,,true,z,4\n"
    )
    frame = glue.create_dynamic_frame.from_options(
        "s3", {"paths": [str(source)]}, "csv", {"withHeader": True}
    )
    schema = frame.schema()
    assert schema["qty"].metadata.get("sluice.glue.choice") is True
    assert schema["qty"].dataType.simpleString() == "struct<long:bigint,string:string>"
    assert schema["flag"].dataType.simpleString() == "struct<boolean:boolean,string:string>"
    # One kind of text each: the types Spark infers, no choice.
    assert schema["name"].dataType.simpleString() == "string"
    assert schema["score"].dataType.simpleString() == "double"
    assert not schema["name"].metadata.get("sluice.glue.choice")

    by_id = sorted(
        _rows(frame.resolveChoice(specs=[("qty", "project:long")])), key=lambda r: r["id"]
    )
    assert [r["qty"] for r in by_id] == [2, None, 4, None]
    cols = sorted(_rows(frame.resolveChoice(specs=[("flag", "make_cols")])), key=lambda r: r["id"])
    assert [(r["flag_boolean"], r["flag_string"]) for r in cols] == [
        (True, None),
        (False, None),
        (None, "maybe"),
        (True, None),
    ]
    # ApplyMapping casts a choice as resolveChoice's cast: does.
    typed = ApplyMapping.apply(
        frame=frame, mappings=[("id", "long", "id", "long"), ("qty", "string", "qty", "int")]
    )
    assert sorted((r["id"], r["qty"]) for r in _rows(typed)) == [
        (1, 2),
        (2, None),
        (3, 4),
        (4, None),
    ]


def test_a_kind_of_value_first_met_after_the_sample_is_kept_as_text(
    glue: GlueContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kinds of a field are probed on the first records only (here two): a value of another
    # kind further on lands in the choice's string member, not lost.
    monkeypatch.setattr(choices, "SAMPLE_RECORDS", 2)
    csv = tmp_path / "late.csv"
    csv.write_text("id,qty\n1,2\n2,2.5\n3,n/a\n4,true\n")
    frame = glue.create_dynamic_frame.from_options(
        "s3", {"paths": [str(csv)]}, "csv", {"withHeader": True}
    )
    assert frame.schema()["qty"].dataType.simpleString() == (
        "struct<long:bigint,double:double,string:string>"
    )
    assert sorted(
        (r["id"], r["qty"]) for r in _rows(frame.resolveChoice(choice="cast:string"))
    ) == [(1, "2"), (2, "2.5"), (3, "n/a"), (4, "true")]
    source = tmp_path / "late"
    source.mkdir()
    (source / "a.json").write_text(
        '{"id": 1, "price": 1}\n{"id": 2, "price": 2.5}\n'
        '{"id": 3, "price": "n/a"}\n{"id": 4, "price": true}\n'
    )
    frame = glue.create_dynamic_frame.from_options("s3", {"paths": [str(source)]}, "json")
    members = frame.resolveChoice(specs=[("price", "make_cols")])
    assert sorted(
        (r["id"], r["price_long"], r["price_double"], r["price_string"]) for r in _rows(members)
    ) == [(1, 1, None, None), (2, None, 2.5, None), (3, None, None, "n/a"), (4, None, None, "true")]


def test_a_union_of_frames_with_different_types_makes_a_choice(glue: GlueContext) -> None:
    ints = _frame(glue, [Row(id=1, code=7), Row(id=2, code=8)])
    texts = _frame(glue, [Row(id=3, code="A1")])

    both = Union.apply(frame1=ints, frame2=texts)

    code = both.schema()["code"]
    assert code.metadata.get("sluice.glue.choice") is True
    assert code.dataType.simpleString() == "struct<long:bigint,string:string>"
    assert both.schema()["id"].dataType.simpleString() == "bigint"
    cast = sorted(_rows(both.resolveChoice(specs=[("code", "cast:string")])), key=lambda r: r["id"])
    assert [r["code"] for r in cast] == ["7", "8", "A1"]
    # A choice unioned with a frame of a third type keeps its members and gains that one.
    doubles = _frame(glue, [Row(id=4, code=2.5)])
    three = both.union(doubles)
    assert three.schema()["code"].dataType.simpleString() == (
        "struct<long:bigint,string:string,double:double>"
    )
    projected = sorted(
        _rows(three.resolveChoice(specs=[("code", "project:double")])), key=lambda r: r["id"]
    )
    assert [r["code"] for r in projected] == [None, None, None, 2.5]
