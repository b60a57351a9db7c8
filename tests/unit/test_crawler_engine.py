"""The crawl engine on generated datasets: every format, partitioned and not, schema drift,
grouping, exclusions and bad input (per-path warnings, no table from nothing)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from sluice.agents.crawler.custom import (
    GrokClassifier,
    JsonClassifier,
    XmlClassifier,
    compile_grok,
    json_path_records,
)
from sluice.agents.crawler.engine import Options, crawl
from sluice.agents.crawler.formats import (
    Column,
    CsvClassifier,
    FormatError,
    merge_columns,
    widen,
)
from sluice.agents.crawler.jdbc import JdbcError, list_tables

pytestmark = pytest.mark.unit


def _parquet(path: Path, rows: dict[str, list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path)


def _types(table) -> dict[str, str]:
    return {c.name: c.type for c in table.columns}


def test_widening_follows_glue() -> None:
    assert widen("int", "bigint") == "bigint"
    assert widen("bigint", "double") == "double"
    assert widen("int", "float") == "double"
    assert widen("bigint", "string") == "string"
    assert widen("date", "timestamp") == "timestamp"
    merged = merge_columns([[Column("a", "int")], [Column("a", "bigint"), Column("b", "string")]])
    assert merged == [Column("a", "bigint"), Column("b", "string")]


def test_hive_partitioned_parquet(tmp_path: Path) -> None:
    for year in (2023, 2024):
        for month in ("01", "02"):
            _parquet(
                tmp_path / "sales" / f"year={year}" / f"month={month}" / "part-0.parquet",
                {"id": pa.array([1, 2], pa.int32()), "amount": [1.5, 2.5]},
            )
    result = crawl(f"file://{tmp_path}/sales")
    assert not result.warnings
    [table] = result.tables
    assert table.name == "sales"
    assert table.partition_keys == ["year", "month"]
    assert _types(table) == {"id": "int", "amount": "double"}
    assert sorted(p.values for p in table.partitions) == [
        ["2023", "01"],
        ["2023", "02"],
        ["2024", "01"],
        ["2024", "02"],
    ]
    assert table.parameters["classification"] == "parquet"
    assert table.parameters["recordCount"] == "8"
    assert table.parameters["compressionType"] == "snappy"
    assert table.serde.endswith("ParquetHiveSerDe")
    assert table.location == f"file://{tmp_path}/sales/"


def test_unnamed_partitions_and_int_widened_across_files(tmp_path: Path) -> None:
    _parquet(tmp_path / "t" / "2024" / "01" / "a.parquet", {"n": pa.array([1], pa.int32())})
    _parquet(tmp_path / "t" / "2024" / "02" / "a.parquet", {"n": pa.array([1], pa.int64())})
    [table] = crawl(str(tmp_path / "t")).tables
    assert table.partition_keys == ["partition_0", "partition_1"]
    assert _types(table) == {"n": "bigint"}


def test_csv_header_delimiter_and_gzip(tmp_path: Path) -> None:
    folder = tmp_path / "csvs"
    folder.mkdir()
    (folder / "a.csv").write_text("id|name|price\n1|apple|1.5\n2|pear|2\n")
    with gzip.open(folder / "b.csv.gz", "wt") as f:
        f.write("id|name|price\n3|plum|0.5\n")
    result = crawl(str(folder))
    [table] = result.tables
    assert _types(table) == {"id": "bigint", "name": "string", "price": "double"}
    assert table.parameters["skip.header.line.count"] == "1"
    assert table.parameters["delimiter"] == "|"
    assert table.serde_parameters["field.delim"] == "|"
    assert table.parameters["recordCount"] == "3"


def test_csv_all_strings_has_no_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b\nc,d\ne,f\n")
    [table] = crawl(str(tmp_path)).tables
    assert [c.name for c in table.columns] == ["col0", "col1"]
    assert "skip.header.line.count" not in table.parameters


def test_json_orc_and_avro(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "a.json").write_text(
        "\n".join(json.dumps({"id": i, "tags": ["x"], "n": {"k": 1.5}}) for i in range(3))
    )
    (tmp_path / "o").mkdir()
    orc.write_table(
        pa.table({"x": pa.array([1, 2], pa.int64()), "s": ["a", "b"]}), tmp_path / "o" / "a.orc"
    )
    fastavro = pytest.importorskip("fastavro")
    (tmp_path / "v").mkdir()
    schema = {
        "type": "record",
        "name": "r",
        "fields": [{"name": "id", "type": "long"}, {"name": "s", "type": ["null", "string"]}],
    }
    with open(tmp_path / "v" / "a.avro", "wb") as f:
        fastavro.writer(f, schema, [{"id": 1, "s": "a"}, {"id": 2, "s": None}])
    tables = {t.name: t for t in crawl(str(tmp_path)).tables}
    assert set(tables) == {"j", "o", "v"}
    assert _types(tables["j"]) == {"id": "bigint", "tags": "array<string>", "n": "struct<k:double>"}
    assert tables["j"].parameters["recordCount"] == "3"
    assert _types(tables["o"]) == {"x": "bigint", "s": "string"}
    assert tables["o"].classification == "orc"
    assert _types(tables["v"]) == {"id": "bigint", "s": "string"}
    assert tables["v"].parameters["recordCount"] == "2"


def test_incompatible_folders_are_separate_tables(tmp_path: Path) -> None:
    _parquet(tmp_path / "orders" / "a.parquet", {"order_id": [1], "total": [2.0]})
    _parquet(tmp_path / "users" / "a.parquet", {"user_id": [1], "email": ["x"]})
    result = crawl(str(tmp_path), Options(table_prefix="raw_"))
    assert sorted(t.name for t in result.tables) == ["raw_orders", "raw_users"]
    assert all(not t.partition_keys for t in result.tables)


def test_combine_compatible_schemas_and_table_level(tmp_path: Path) -> None:
    _parquet(tmp_path / "a" / "x.parquet", {"c1": [1]})
    _parquet(tmp_path / "b" / "x.parquet", {"c2": [1]})
    [combined] = crawl(str(tmp_path), Options(combine_compatible_schemas=True)).tables
    assert combined.partition_keys == ["partition_0"]
    assert [c.name for c in combined.columns] == ["c1", "c2"]
    tables = crawl(str(tmp_path), Options(table_level=2)).tables
    assert sorted(t.name for t in tables) == ["a", "b"]


def test_schema_drift_adds_a_column(tmp_path: Path) -> None:
    for day in range(1, 5):
        _parquet(tmp_path / "e" / f"day={day}" / "a.parquet", {"id": [1], "v": [1.0]})
    _parquet(tmp_path / "e" / "day=5" / "a.parquet", {"id": [1], "v": [1.0], "extra": ["x"]})
    [table] = crawl(str(tmp_path / "e")).tables
    assert [c.name for c in table.columns] == ["id", "v", "extra"]
    assert len(table.partitions) == 5


def test_exclusions_and_hidden_files(tmp_path: Path) -> None:
    _parquet(tmp_path / "d" / "keep.parquet", {"a": [1]})
    _parquet(tmp_path / "d" / "tmp" / "skip.parquet", {"zzz": ["x"]})
    (tmp_path / "d" / "_SUCCESS").write_text("")
    (tmp_path / "d" / "notes.txt.crc").write_text("x")
    result = crawl(str(tmp_path / "d"), Options(exclusions=("tmp/**",)))
    [table] = result.tables
    assert [c.name for c in table.columns] == ["a"]
    assert result.files == 1


def test_bad_input_is_warned_per_path(tmp_path: Path) -> None:
    _parquet(tmp_path / "d" / "good.parquet", {"a": [1]})
    (tmp_path / "d" / "liar.parquet").write_text("id,name\n1,x\n")
    good = tmp_path / "d" / "truncated.parquet"
    _parquet(good, {"a": [1, 2, 3]})
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    (tmp_path / "d" / "empty.csv").write_text("")
    result = crawl(str(tmp_path / "d"))
    [table] = result.tables
    assert [c.name for c in table.columns] == ["a"]
    warned = {Path(p).name: m for p, m in result.warnings}
    assert set(warned) == {"liar.parquet", "truncated.parquet", "empty.csv"}
    assert "not parquet" in warned["liar.parquet"]


def test_missing_path_and_unreadable_folder(tmp_path: Path) -> None:
    result = crawl(str(tmp_path / "nope"))
    assert not result.tables and not result.complete
    assert "does not exist" in result.warnings[0][1]
    (tmp_path / "empty").mkdir()
    assert crawl(str(tmp_path / "empty")).tables == []


def test_new_folders_only_reads_only_new_folders(tmp_path: Path) -> None:
    for day in (1, 2):
        _parquet(tmp_path / "e" / f"day={day}" / "a.parquet", {"id": [1]})
    first = crawl(str(tmp_path / "e"))
    _parquet(tmp_path / "e" / "day=3" / "a.parquet", {"id": [1]})
    second = crawl(str(tmp_path / "e"), Options(skip_folders=frozenset(first.folders)))
    assert second.files == 1
    [table] = second.tables
    assert [p.values for p in table.partitions] == [["3"]]
    assert second.folders == ["day=1", "day=2", "day=3"]


def test_a_custom_csv_classifier_fixes_delimiter_and_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x#y\n1#2\n3#4\n")
    custom = CsvClassifier(delimiter="#", contains_header="ABSENT", header=("first", "second"))
    [table] = crawl(str(tmp_path), Options(csv_classifier=custom)).tables
    assert _types(table) == {"first": "string", "second": "string"}
    assert "skip.header.line.count" not in table.parameters


def test_jdbc_never_crawls_the_servers_own_database() -> None:
    props = {"JDBC_CONNECTION_URL": "jdbc:postgresql://localhost:5432/test", "USERNAME": "x"}
    with pytest.raises(JdbcError, match="own database"):
        list_tables(props, "test/%", protected=("127.0.0.1:5432/test",))
    with pytest.raises(JdbcError, match="not supported"):
        list_tables({"JDBC_CONNECTION_URL": "jdbc:mysql://h/db"}, "db/%")


def test_grok_classifier_names_the_columns_of_matching_logs(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text(
        "2024-05-01T12:00:00Z INFO 10.0.0.1 took 15 ms\n"
        "2024-05-01T12:00:01Z WARN 10.0.0.2 took 7 ms\n"
    )
    grok = GrokClassifier(
        "applog",
        "%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{IP:client} took %{MS:elapsed:int} ms",
        custom_patterns="MS %{POSINT}",
    )
    [table] = crawl(str(tmp_path / "logs"), Options(custom_classifiers=(grok,))).tables
    assert table.classification == "applog"
    assert _types(table) == {
        "ts": "string",
        "level": "string",
        "client": "string",
        "elapsed": "int",
    }
    assert table.serde.endswith("GrokSerDe")
    assert table.serde_parameters["input.format"] == grok.pattern
    with pytest.raises(FormatError, match="not known"):
        compile_grok("%{NOPE:x}")


def test_xml_classifier_reads_rows_and_xml_without_one_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.xml").write_text(
        "<items><item id='1'><name>a</name><price>1.5</price></item>"
        "<item id='2'><name>b</name><price>2</price></item></items>"
    )
    [table] = crawl(
        str(tmp_path / "x"), Options(custom_classifiers=(XmlClassifier("xml", "item"),))
    ).tables
    assert _types(table) == {"id": "bigint", "name": "string", "price": "double"}
    assert table.parameters["recordCount"] == "2"
    assert table.serde_parameters == {"rowTag": "item"}
    result = crawl(str(tmp_path / "x"))
    assert not result.tables and "XML classifier" in result.warnings[0][1]


def test_json_classifier_path_selects_the_records(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "a.json").write_text(
        json.dumps({"meta": {"n": 2}, "data": {"records": [{"id": 1, "v": 0.5}, {"id": 2}]}})
    )
    options = Options(custom_classifiers=(JsonClassifier("$.data.records[*]"),))
    [table] = crawl(str(tmp_path / "j"), options).tables
    assert _types(table) == {"id": "bigint", "v": "double"}
    assert table.parameters["recordCount"] == "2"
    assert json_path_records({"a": [{"x": 1}, {"x": 2}]}, "$.a[1]") == [{"x": 2}]
    with pytest.raises(FormatError, match="not supported"):
        json_path_records({}, "$..deep")


def _pickling_fan_out(calls: list[int]):
    """A FanOut as Ray's would be, in this process: the function and each chunk cross a pickle
    round trip (as they do to a task), and chunks finish last-first."""
    import pickle

    def fan_out(fn, chunks):
        calls.append(len(chunks))
        remote = pickle.loads(pickle.dumps(fn))
        for index in reversed(range(len(chunks))):
            items = pickle.loads(pickle.dumps(list(chunks[index])))
            yield index, pickle.loads(pickle.dumps([remote(item) for item in items]))

    return fan_out


def test_fan_out_lists_and_reads_as_threads_do(tmp_path: Path) -> None:
    """Listing per top folder and reading in chunks elsewhere give the same tables, columns in
    the same order, and the same warnings as the threads of one process."""
    for year in (2022, 2023, 2024):
        for i in range(3):
            rows = {"id": [1], "amount": [1.5]}
            if year == 2024 and i == 2:
                rows["late"] = ["x"]
            _parquet(tmp_path / "sales" / f"year={year}" / f"part-{i}.parquet", rows)
    (tmp_path / "sales" / "year=2023" / "broken.parquet").write_bytes(b"PAR1 not really")
    _parquet(tmp_path / "top.parquet", {"z": [1]})
    calls: list[int] = []
    threads = crawl(str(tmp_path), Options(table_level=2))
    fanned = crawl(
        str(tmp_path),
        Options(table_level=2, fan_out=_pickling_fan_out(calls), files_per_task=2),
    )
    # One listing task per top folder (sales), then ceil(11 files / 2) reading tasks.
    assert calls == [1, 6]
    assert fanned.files == threads.files == 11
    assert [(t.name, _types(t), len(t.partitions)) for t in fanned.tables] == [
        (t.name, _types(t), len(t.partitions)) for t in threads.tables
    ]
    assert [c.name for c in fanned.tables[0].columns] == ["id", "amount", "late"]
    assert sorted(fanned.warnings) == sorted(threads.warnings)
    assert any("broken.parquet" in where for where, _ in fanned.warnings)


def test_fan_out_listing_error_is_a_warning(tmp_path: Path) -> None:
    """A folder a listing task cannot list is a warning and makes the target incomplete (so
    nothing is deleted); the other folders' tables are still made."""
    _parquet(tmp_path / "a" / "x.parquet", {"a": [1]})
    _parquet(tmp_path / "b" / "x.parquet", {"b": ["s"], "c": [1.5]})
    _parquet(tmp_path / "d" / "x.parquet", {"d": [True]})
    listing = _pickling_fan_out([])

    def failing_on_b(fn, chunks):
        for index, found in listing(fn, chunks):
            if chunks[index] == [str(tmp_path / "b")]:
                found = ["[Errno 13] Permission denied"]
            yield index, found

    result = crawl(str(tmp_path), Options(fan_out=failing_on_b))
    assert not result.complete
    assert [t.name for t in result.tables] == ["a", "d"]
    assert (str(tmp_path / "b"), "cannot list: [Errno 13] Permission denied") in result.warnings
