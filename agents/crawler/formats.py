"""One file's format, schema, record count and compression, read with pyarrow (footers only
for Parquet and ORC), fastavro for Avro when installed; Hive type names and Glue's widening."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

# How much of a text file is read to infer its schema; record counts of bigger files are
# estimated from it, as Glue's are.
SAMPLE_BYTES = 1 << 20
_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2"}
_BY_EXTENSION = {
    ".parquet": "parquet",
    ".orc": "orc",
    ".avro": "avro",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_COLUMN_NAME = re.compile(r"[^\W\d][\w .\-]*", re.UNICODE)


@dataclass(frozen=True)
class CsvClassifier:
    """A custom CSV classifier: what it fixes instead of detecting (Glue's CsvClassifier).

    contains_header: PRESENT, ABSENT or UNKNOWN (detected); header: the column names to use.
    """

    delimiter: str = ""
    quote: str = ""
    contains_header: str = "UNKNOWN"
    header: tuple[str, ...] = ()


class FormatError(Exception):
    """A file that cannot be read as any format, or that lies about its format."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass
class FileSchema:
    """What one file says about its table."""

    classification: str
    columns: list[Column]
    record_count: int
    size: int
    compression: str = "none"
    # csv: delimiter, quote character and whether the first line is a header.
    delimiter: str = ","
    quote: str = '"'
    header: bool = False
    estimated: bool = False
    serde_parameters: dict[str, str] = field(default_factory=dict)


def hive_type(t: pa.DataType) -> str:
    """The Hive type name Glue gives an Arrow type."""
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_uint8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint16(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "int"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if pa.types.is_struct(t):
        inner = ",".join(
            f"{t.field(i).name}:{hive_type(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"struct<{inner}>"
    return "string"


# Glue's numeric widening: a column that is int in one file and bigint in another is bigint;
# any number with a double is double; anything else that differs is string.
_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3, "float": 4, "double": 5}


def widen(a: str, b: str) -> str:
    """The type of a column that is a in some files and b in others."""
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
        top = max(_NUMERIC_RANK[a], _NUMERIC_RANK[b])
        if top >= _NUMERIC_RANK["float"]:
            return "double"
        return "bigint" if top == _NUMERIC_RANK["bigint"] else max((a, b), key=_NUMERIC_RANK.get)
    if {a, b} == {"date", "timestamp"}:
        return "timestamp"
    return "string"


def merge_columns(schemas: Sequence[Sequence[Column]]) -> list[Column]:
    """The union of columns by name, in order of first appearance, types widened."""
    types: dict[str, str] = {}
    for columns in schemas:
        for column in columns:
            types[column.name] = (
                widen(types[column.name], column.type) if column.name in types else column.type
            )
    return [Column(name, "string" if t == "null" else t) for name, t in types.items()]


def _compression(path: str, head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    for suffix, name in _COMPRESSIONS.items():
        if path.endswith(suffix):
            return name
    return "none"


def _strip_compression(path: str) -> str:
    for suffix in _COMPRESSIONS:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def detect(path: str, head: bytes) -> str:
    """The classification of a file from its first bytes (what it is) and its name."""
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:3] == b"ORC":
        return "orc"
    if head[:4] == b"Obj\x01":
        return "avro"
    name = _strip_compression(path).lower()
    ext = name[name.rfind(".") :] if "." in name.rsplit("/", 1)[-1] else ""
    claimed = _BY_EXTENSION.get(ext)
    if claimed in ("parquet", "orc", "avro"):
        raise FormatError(f"named {ext} but its bytes are not {claimed}")
    return claimed or "text"


def read_file(
    fs: pafs.FileSystem,
    path: str,
    size: int,
    sample_bytes: int = SAMPLE_BYTES,
    csv_classifier: CsvClassifier | None = None,
    custom: Callable[[bytes, int], FileSchema | None] | None = None,
) -> FileSchema:
    """The schema of one file.

    Raises:
        FormatError: It is empty, truncated, or not in a format the crawler knows.
        OSError: It cannot be read.
    """
    if size == 0:
        raise FormatError("empty file")
    with fs.open_input_file(path) as f:
        head = f.read(min(size, 4))
        compression = _compression(path, head)
        if compression == "none":
            kind = detect(path, head)
            if kind == "parquet":
                return _parquet(f, size)
            if kind == "orc":
                return _orc(f, size)
            if kind == "avro":
                f.seek(0)
                return _avro(f, size)
        f.seek(0)
        raw = f.read(min(size, sample_bytes))
    truncated = len(raw) < size
    text = _decompress(raw, compression, truncated)
    kind = detect(path, b"")
    if custom is not None:
        found = custom(text, size)
        if found is not None:
            found.compression = compression
            return found
    return _text(
        text,
        kind,
        size,
        compression,
        estimate_ratio=(size / len(raw)) if truncated else 1.0,
        custom=csv_classifier,
    )


def _decompress(raw: bytes, compression: str, truncated: bool) -> bytes:
    if compression == "none":
        return raw
    try:
        if compression == "gzip":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
                return _read_what_can_be(g)
        return _read_what_can_be(bz2.BZ2File(io.BytesIO(raw)))
    except OSError as exc:
        raise FormatError(f"{compression} data is corrupt: {exc}") from None


def _read_what_can_be(stream: io.BufferedIOBase) -> bytes:
    out = bytearray()
    try:
        while chunk := stream.read(65536):
            out += chunk
            if len(out) >= SAMPLE_BYTES:
                break
    except EOFError:
        pass
    if not out:
        raise FormatError("compressed data is truncated")
    return bytes(out)


def _parquet(f: pa.NativeFile, size: int) -> FileSchema:
    try:
        meta = pq.read_metadata(f)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FormatError(f"not a readable Parquet file: {exc}") from None
    schema = meta.schema.to_arrow_schema()
    codec = "none"
    if meta.num_row_groups and meta.num_columns:
        codec = meta.row_group(0).column(0).compression.lower()
        codec = "none" if codec == "uncompressed" else codec
    return FileSchema(
        "parquet",
        [Column(n.lower(), hive_type(schema.field(n).type)) for n in schema.names],
        meta.num_rows,
        size,
        compression=codec,
    )


def _orc(f: pa.NativeFile, size: int) -> FileSchema:
    from pyarrow import orc

    try:
        reader = orc.ORCFile(f)
        schema = reader.schema
        rows = reader.nrows
        codec = str(reader.compression).lower()
    except (pa.ArrowInvalid, OSError) as exc:
        raise FormatError(f"not a readable ORC file: {exc}") from None
    columns = [Column(n.lower(), hive_type(schema.field(n).type)) for n in schema.names]
    return FileSchema(
        "orc", columns, rows, size, compression="none" if codec == "uncompressed" else codec
    )


_AVRO_TYPES = {
    "boolean": "boolean",
    "int": "int",
    "long": "bigint",
    "float": "float",
    "double": "double",
    "bytes": "binary",
    "string": "string",
}


def _avro_type(t: object) -> str:
    if isinstance(t, list):
        kinds = [x for x in t if x != "null"]
        return _avro_type(kinds[0]) if len(kinds) == 1 else "string"
    if isinstance(t, str):
        return _AVRO_TYPES.get(t, "string")
    if isinstance(t, dict):
        logical = t.get("logicalType")
        if logical == "date":
            return "date"
        if logical in ("timestamp-millis", "timestamp-micros"):
            return "timestamp"
        if logical == "decimal":
            return f"decimal({t.get('precision')},{t.get('scale', 0)})"
        kind = t.get("type")
        if kind == "array":
            return f"array<{_avro_type(t['items'])}>"
        if kind == "map":
            return f"map<string,{_avro_type(t['values'])}>"
        if kind == "record":
            inner = ",".join(f"{x['name']}:{_avro_type(x['type'])}" for x in t["fields"])
            return f"struct<{inner}>"
        if kind == "enum":
            return "string"
        return _avro_type(kind)
    return "string"


def _avro(f: pa.NativeFile, size: int) -> FileSchema:
    try:
        import fastavro
    except ImportError:
        raise FormatError("an Avro file, and fastavro is not installed") from None
    data = io.BytesIO(f.read())
    try:
        reader = fastavro.block_reader(data)
        schema = reader.writer_schema
        codec = reader.codec
        rows = sum(block.num_records for block in reader)
    except (ValueError, EOFError, StopIteration, KeyError) as exc:
        raise FormatError(f"not a readable Avro file: {exc}") from None
    fields = schema.get("fields", []) if isinstance(schema, dict) else []
    columns = [Column(x["name"].lower(), _avro_type(x["type"])) for x in fields]
    return FileSchema("avro", columns, rows, size, compression="none" if codec == "null" else codec)


def _text(
    data: bytes,
    kind: str,
    size: int,
    compression: str,
    estimate_ratio: float,
    custom: CsvClassifier | None = None,
) -> FileSchema:
    if estimate_ratio > 1.0:
        # Only whole lines of a sample.
        data = data[: data.rfind(b"\n") + 1] or data
    stripped = data.lstrip()
    if not stripped:
        raise FormatError("no records")
    if stripped[:1] == b"<":
        raise FormatError("XML: the crawler needs an XML classifier naming its row tag")
    if kind == "json" or (kind == "text" and stripped[:1] in (b"{", b"[")):
        return _json(data, size, compression, estimate_ratio)
    if kind in ("csv", "text"):
        return _csv(data, size, compression, estimate_ratio, custom)
    raise FormatError(f"unknown format {kind}")


def json_records_schema(records: list[dict], size: int) -> FileSchema:
    """The schema of JSON records already parsed (a JSON classifier's json_path picked them)."""
    data = b"\n".join(json.dumps(r).encode() for r in records if isinstance(r, dict))
    if not data:
        raise FormatError("the JSON path selects no records")
    return _json(data, size, "none", 1.0)


def _json(data: bytes, size: int, compression: str, ratio: float) -> FileSchema:
    stripped = data.lstrip()
    if stripped[:1] == b"[":
        try:
            records = json.loads(data)
        except ValueError as exc:
            raise FormatError(f"not valid JSON: {exc}") from None
        data = b"\n".join(json.dumps(r).encode() for r in records if isinstance(r, dict))
    try:
        table = pajson.read_json(io.BytesIO(data), pajson.ReadOptions(use_threads=False))
    except pa.ArrowInvalid as exc:
        raise FormatError(f"not valid JSON lines: {str(exc).splitlines()[0]}") from None
    columns = [Column(f.name.lower(), _text_type(f.type)) for f in table.schema]
    return FileSchema(
        "json",
        columns,
        int(table.num_rows * ratio),
        size,
        compression=compression,
        estimated=ratio > 1.0,
    )


def _text_type(t: pa.DataType) -> str:
    # JSON and CSV integers are bigint, as Glue's classifiers say.
    name = hive_type(t)
    if name in ("tinyint", "smallint", "int"):
        return "bigint"
    if name == "float":
        return "double"
    return "null" if pa.types.is_null(t) else name


def _sniff(text: str) -> tuple[str, str]:
    """The delimiter (and quote) of delimited text: one that splits the first lines into the
    same number of fields; csv.Sniffer (slower) when none does."""
    lines = [line for line in text[:8192].split("\n")[:10] if line.strip()]
    if len(lines) > 1 and len(text) > 8192:
        lines = lines[:-1]  # the last may be cut
    if lines and '"' not in text[:8192] and "'" not in text[:8192]:
        best, width = "", 0
        for delimiter in (",", "\t", "|", ";"):
            counts = {line.count(delimiter) for line in lines}
            if len(counts) == 1 and (n := counts.pop()) > width:
                best, width = delimiter, n
        if best:
            return best, '"'
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",\t|;")
        return dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        return ",", '"'


def _csv(
    data: bytes, size: int, compression: str, ratio: float, custom: CsvClassifier | None = None
) -> FileSchema:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("not UTF-8 text") from None
    if "\x00" in text:
        raise FormatError("binary data, not text")
    custom = custom or CsvClassifier()
    delimiter, quote = _sniff(text) if not custom.delimiter else (custom.delimiter, '"')
    quote = custom.quote or quote
    rows = list(csv.reader(io.StringIO(text[:65536]), delimiter=delimiter, quotechar=quote))
    rows = [r for r in rows if r]
    if not rows:
        raise FormatError("no records")
    width = len(rows[0])
    if width < 2 and delimiter not in text.split("\n", 1)[0]:
        raise FormatError("not delimited text (one column and no delimiter)")
    options = pacsv.ParseOptions(delimiter=delimiter, quote_char=quote)
    wanted = {"PRESENT": True, "ABSENT": False}.get(custom.contains_header)
    generated = [f"col{i}" for i in range(width)]
    if wanted is False or (wanted is None and not _header_candidate(rows)):
        header, table = False, _parse(data, options, generated, skip=0)
        extra_rows = 0
    else:
        # One parse of the rows after the first tells both whether the first is a header
        # (Glue's rule: some column of the rest is not a string) and the columns' types.
        table = _parse(data, options, generated, skip=1)
        typed = any(
            not pa.types.is_string(f.type) and not pa.types.is_null(f.type) for f in table.schema
        )
        header = wanted if wanted is not None else typed
        # No header and nothing typed: the first row is data of all-string columns too.
        extra_rows = 0 if header else 1
    names = [_column_name(v, i) for i, v in enumerate(rows[0])] if header else generated
    if custom.header:
        names = [_column_name(v, i) for i, v in enumerate(custom.header)]
        names += [f"col{i}" for i in range(len(names), width)]
        names = names[:width]
    if len(names) != table.num_columns:
        raise FormatError("not consistent delimited text: rows of different widths")
    table = table.rename_columns(names)
    records = table.num_rows + extra_rows
    columns = [Column(f.name, _text_type(f.type)) for f in table.schema]
    serde = {"field.delim": delimiter}
    return FileSchema(
        "csv",
        columns,
        int(records * ratio),
        size,
        compression=compression,
        delimiter=delimiter,
        quote=quote,
        header=header,
        estimated=ratio > 1.0,
        serde_parameters=serde,
    )


def _header_candidate(rows: list[list[str]]) -> bool:
    """Whether the first row could be a header: distinct values, each a valid column name."""
    first = rows[0]
    if len(rows) < 2 or len(set(first)) != len(first):
        return False
    return all(_COLUMN_NAME.fullmatch(v.strip()) for v in first)


def _parse(data: bytes, options: pacsv.ParseOptions, names: list[str], skip: int) -> pa.Table:
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip, use_threads=False),
            parse_options=options,
            convert_options=pacsv.ConvertOptions(strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        raise FormatError(f"not consistent delimited text: {str(exc).splitlines()[0]}") from None


def _column_name(value: str, index: int) -> str:
    name = value.strip().lower()
    return name or f"col{index}"
