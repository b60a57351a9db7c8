"""A crawl of file targets: list (pyarrow.fs, local or S3), read the files of each folder in
parallel, group folders into tables as Glue does, and describe each table and its partitions.

Grouping: a folder whose leaf folders all lie at the same depth and hold compatible schemas
(same classification, and column names mostly shared, or any with CombineCompatibleSchemas) is
one table, its sub-folders its partitions (`k=v` names are key k, others `partition_<i>`);
otherwise each sub-folder is looked at alone. Grouping.TableLevelConfiguration pins the table
roots' depth (1: the target path itself). Files that cannot be read are per-path warnings and
take no part in the schema; nothing read means no table.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

from sluice.agents.crawler.custom import (
    GrokClassifier,
    JsonClassifier,
    XmlClassifier,
    grok_schema,
    json_schema,
    xml_schema,
)
from sluice.agents.crawler.formats import (
    Column,
    CsvClassifier,
    FileSchema,
    FormatError,
    merge_columns,
    read_file,
)

# Column names two schemas must share (of their union) to be one table, as Glue's 70 %.
SIMILARITY = 0.7
_HIVE_PART = re.compile(r"^([^=/]+)=(.*)$")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")

FORMATS = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    ),
    "orc": (
        "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    ),
    "avro": (
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
        "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
    ),
    "csv": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
    ),
    "json": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.openx.data.jsonserde.JsonSerDe",
    ),
}


@dataclass(frozen=True)
class LocalAccess:
    """Where file:// crawls may read: under roots (the operator's --crawl-root), never under
    protected (the server's own files, pseudo-filesystems), symbolic links resolved."""

    roots: tuple[str, ...] = ()
    protected: tuple[str, ...] = ("/proc", "/sys", "/dev")

    def refusal(self, path: str) -> str:
        """Why path may not be read ("" when it may)."""
        real = os.path.realpath(path)
        if not any(_under(real, os.path.realpath(root)) for root in self.roots):
            return "not under a crawl root of this server (--crawl-root)"
        if any(_under(real, os.path.realpath(own)) for own in self.protected):
            return "a file of the server itself, never crawled"
        return ""


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True)
class Options:
    """How to crawl one target."""

    exclusions: tuple[str, ...] = ()
    # Files read per folder; 0 reads every file.
    sample_size: int = 0
    combine_compatible_schemas: bool = False
    table_level: int = 0
    table_prefix: str = ""
    threads: int = 16
    # Leaf folders (relative to the target) a previous crawl saw: not read again
    # (CRAWL_NEW_FOLDERS_ONLY).
    skip_folders: frozenset[str] = frozenset()
    # The crawler's first custom CSV classifier, if it names one.
    csv_classifier: CsvClassifier | None = None
    # Where file:// targets may be read; None: anywhere (the engine used alone).
    local: LocalAccess | None = None
    # The crawler's Grok and XML classifiers, tried in order on text files before the built-in.
    custom_classifiers: tuple[GrokClassifier | XmlClassifier | JsonClassifier, ...] = ()
    # Where listing and reading run: None, threads of this process; else a FanOut (Ray tasks
    # in the crawler's sandbox, see sluice.agents.crawler.sandbox).
    fan_out: FanOut | None = None
    # Files one task of a fan-out reads.
    files_per_task: int = 64


@dataclass
class Partition:
    values: list[str]
    location: str
    columns: list[Column]
    parameters: dict[str, str]


@dataclass
class TableResult:
    """A table as the data says it is."""

    name: str
    location: str
    classification: str
    columns: list[Column]
    partition_keys: list[str]
    partitions: list[Partition]
    parameters: dict[str, str]
    serde: str
    serde_parameters: dict[str, str]
    input_format: str
    output_format: str
    # Every folder of its target (URIs) that holds files, readable or not, when the target was
    # listed completely: a partition outside all of them has lost its data. None: not known.
    present: list[str] | None = None

    def table_input(self) -> dict:
        """A TableInput (snake_case dict) for the catalog API."""
        return {
            "name": self.name,
            "table_type": "EXTERNAL_TABLE",
            "parameters": self.parameters,
            "partition_keys": [{"name": k, "type": "string"} for k in self.partition_keys],
            "storage_descriptor": self._storage(self.columns, self.location),
        }

    def partition_input(self, partition: Partition) -> dict:
        return {
            "values": partition.values,
            "parameters": partition.parameters,
            "storage_descriptor": self._storage(partition.columns, partition.location),
        }

    def _storage(self, columns: Sequence[Column], location: str) -> dict:
        return {
            "columns": [{"name": c.name, "type": c.type} for c in columns],
            "location": location,
            "input_format": self.input_format,
            "output_format": self.output_format,
            "compressed": self.parameters.get("compressionType", "none") != "none",
            "serde_info": {
                "serialization_library": self.serde,
                "parameters": self.serde_parameters,
            },
            "parameters": self.parameters,
        }


@dataclass
class CrawlResult:
    tables: list[TableResult] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    # Every leaf folder (relative) that holds data, read now or before.
    folders: list[str] = field(default_factory=list)
    # Whether the whole target could be listed (tables it no longer has may be deleted).
    complete: bool = True


Progress = Callable[[int, int], None]
# Applies fn to every item of every chunk elsewhere (in other processes: fn and the items must
# pickle), yielding (chunk index, [fn(item) for item in chunk]) as chunks finish, in any order.
FanOut = Callable[[Callable[[Any], Any], Sequence[Sequence[Any]]], Iterable[tuple[int, list[Any]]]]


def filesystem(path: str, connection: dict[str, str] | None = None) -> tuple[pafs.FileSystem, str]:
    """The file system of a file:// or s3:// path and the path within it.

    connection: a catalog connection's properties (ENDPOINT_URL, AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, REGION) for s3://.
    """
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return pafs.LocalFileSystem(), posixpath.normpath(parsed.path or path)
    if parsed.scheme in ("s3", "s3a"):
        props = connection or {}
        endpoint = props.get("ENDPOINT_URL", "")
        scheme = "https"
        if endpoint.startswith(("http://", "https://")):
            scheme, endpoint = endpoint.split("://", 1)
        fs = pafs.S3FileSystem(
            access_key=props.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=props.get("AWS_SECRET_ACCESS_KEY") or None,
            region=props.get("REGION", "us-east-1"),
            endpoint_override=endpoint or None,
            scheme=scheme,
            connect_timeout=5,
            request_timeout=30,
        )
        return fs, f"{parsed.netloc}{parsed.path}".rstrip("/")
    raise FormatError(f"{path}: scheme {parsed.scheme}:// is not crawlable (file:// or s3://)")


def _excluded(relative: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        regex = _glob(pattern)
        if regex.fullmatch(relative) or any(
            regex.fullmatch(relative[:i]) for i in range(len(relative)) if relative[i] == "/"
        ):
            return True
    return False


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    """Glue's exclusion globs: ** crosses folders, * and ? do not, {a,b} alternatives."""
    cached = _GLOB_CACHE.get(pattern)
    if cached is not None:
        return cached
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "{":
            end = pattern.find("}", i)
            if end < 0:
                out += re.escape(c)
            else:
                out += "(?:" + "|".join(re.escape(x) for x in pattern[i + 1 : end].split(",")) + ")"
                i = end
        elif c == "[":
            end = pattern.find("]", i)
            out += fnmatch.translate(pattern[i : end + 1])[4:-3] if end > 0 else re.escape(c)
            i = max(i, end)
        else:
            out += re.escape(c)
        i += 1
    compiled = re.compile(out)
    _GLOB_CACHE[pattern] = compiled
    return compiled


def _hidden(relative: str) -> bool:
    return any(part.startswith(("_", ".")) and "=" not in part for part in relative.split("/")) or (
        relative.endswith((".crc", "$folder$"))
    )


@dataclass
class _Leaf:
    folder: str  # relative to the target; "" for the target itself
    schemas: list[FileSchema]
    files: int


def crawl(
    path: str,
    options: Options = Options(),
    *,
    connection: dict[str, str] | None = None,
    progress: Progress | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> CrawlResult:
    """Crawls one file:// or s3:// target."""
    result = CrawlResult()
    try:
        fs, base = filesystem(path, connection)
        local = options.local if isinstance(fs, pafs.LocalFileSystem) else None
        if local is not None and (why := local.refusal(base)):
            result.warnings.append((path, why))
            result.complete = False
            return result
        listed, unlisted = _list_files(fs, base, options.fan_out)
    except FileNotFoundError:
        result.warnings.append((path, "the path does not exist"))
        result.complete = False
        return result
    except (OSError, FormatError) as exc:
        result.warnings.append((path, f"cannot list: {_first_line(exc)}"))
        result.complete = False
        return result
    for folder, why in unlisted:
        # Its tables are not known: nothing may be deleted for want of them.
        result.warnings.append((_uri(path, base, folder), f"cannot list: {why}"))
        result.complete = False
    by_folder: dict[str, list[tuple[str, int]]] = {}
    for file_path, size in listed:
        relative = file_path[len(base) :].lstrip("/")
        if _hidden(relative) or _excluded(relative, options.exclusions):
            continue
        if local is not None and (why := local.refusal(file_path)):
            result.warnings.append((_uri(path, base, file_path), why))
            continue
        folder = posixpath.dirname(relative)
        by_folder.setdefault(folder, []).append((file_path, size))
    result.folders = sorted(by_folder)
    todo = {f: files for f, files in by_folder.items() if f not in options.skip_folders}
    sampled: list[tuple[str, str, int]] = []
    for folder, files in sorted(todo.items()):
        files.sort()
        chosen = files[: options.sample_size] if options.sample_size else files
        sampled.extend((folder, file_path, size) for file_path, size in chosen)
    result.files = sum(len(files) for files in todo.values())
    leaves: dict[str, _Leaf] = {f: _Leaf(f, [], len(files)) for f, files in todo.items()}
    reader = _FileReader(fs, path, base, options.csv_classifier, options.custom_classifiers)
    for folder, schema, warning in _read_all(reader, sampled, options, progress, stopped):
        if schema is not None:
            leaves[folder].schemas.append(schema)
        elif warning:
            uri, _, message = warning.partition(": ")
            result.warnings.append((uri, message))
    if stopped():
        result.complete = False
        return result
    readable = {f: leaf for f, leaf in leaves.items() if leaf.schemas}
    for folder, leaf in sorted(leaves.items()):
        if not leaf.schemas and folder not in readable:
            result.warnings.append(
                (_uri(path, base, posixpath.join(base, folder)), "no readable file")
            )
    groups = _group(readable, options)
    names: set[str] = set()
    present = sorted(_uri(path, base, posixpath.join(base, f)) for f in by_folder)
    for root, members in groups:
        table = _table(path, base, root, members, options, names)
        if table is not None:
            table.present = present
            result.tables.append(table)
    return result


def _list_files(
    fs: pafs.FileSystem, base: str, fan_out: FanOut | None
) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """(path, size) of every file under base, and (folder, why) of the folders that could not
    be listed; with a fan-out, each folder directly under base is listed by a task of its own
    (one that fails is a warning, the others' files are kept); without one, any failure raises."""
    if fan_out is None:
        listed = _Lister(fs)(base)
        assert not isinstance(listed, str)
        return listed, []
    top = fs.get_file_info(pafs.FileSelector(base, recursive=False, allow_not_found=False))
    files = [(i.path, i.size) for i in top if i.type == pafs.FileType.File]
    folders = sorted(i.path for i in top if i.type == pafs.FileType.Directory)
    found: dict[int, list[tuple[str, int]]] = {}
    failed: list[tuple[str, str]] = []
    for index, (listed,) in fan_out(_Lister(fs, tolerant=True), [[f] for f in folders]):
        if isinstance(listed, str):
            failed.append((folders[index], listed))
        else:
            found[index] = listed
    for index in sorted(found):
        files.extend(found[index])
    return files, sorted(failed)


@dataclass(frozen=True)
class _Lister:
    """Lists the files under a folder, recursively: [(path, size)]. tolerant: an error is
    returned as its message (it crosses a process boundary as a value)."""

    fs: pafs.FileSystem
    tolerant: bool = False

    def __call__(self, folder: str) -> list[tuple[str, int]] | str:
        try:
            infos = self.fs.get_file_info(
                pafs.FileSelector(folder, recursive=True, allow_not_found=False)
            )
        except OSError as exc:
            if not self.tolerant:
                raise
            return _first_line(exc)
        return [(i.path, i.size) for i in infos if i.type == pafs.FileType.File]


@dataclass(frozen=True)
class _FileReader:
    """Reads one sampled file: (folder, schema or None, warning or "")."""

    fs: pafs.FileSystem
    target: str
    base: str
    csv_classifier: CsvClassifier | None
    custom_classifiers: tuple[GrokClassifier | XmlClassifier | JsonClassifier, ...]

    def __call__(self, item: tuple[str, str, int]) -> tuple[str, FileSchema | None, str]:
        folder, file_path, size = item
        where = _uri(self.target, self.base, file_path)
        try:
            schema = read_file(
                self.fs,
                file_path,
                size,
                csv_classifier=self.csv_classifier,
                custom=_custom_reader(self.custom_classifiers),
            )
            return folder, schema, ""
        except FormatError as exc:
            return folder, None, f"{where}: {exc}"
        except OSError as exc:
            return folder, None, f"{where}: cannot read: {_first_line(exc)}"


def _read_all(
    reader: _FileReader,
    sampled: list[tuple[str, str, int]],
    options: Options,
    progress: Progress | None,
    stopped: Callable[[], bool],
) -> list[tuple[str, FileSchema | None, str]]:
    """reader over sampled, in sampled's order (a table's schema merges in file order): by the
    threads of this process, or by tasks of options.fan_out."""
    total = len(sampled)
    if options.fan_out is None:

        def read(item: tuple[str, str, int]) -> tuple[str, FileSchema | None, str]:
            return (item[0], None, "") if stopped() else reader(item)

        out = []
        with ThreadPoolExecutor(max_workers=max(1, options.threads)) as pool:
            for done, found in enumerate(pool.map(read, sampled), 1):
                out.append(found)
                if progress is not None and (done % 100 == 0 or done == total):
                    progress(done, total)
        return out
    size = max(1, options.files_per_task)
    chunks = [sampled[i : i + size] for i in range(0, total, size)]
    results: dict[int, list[tuple[str, FileSchema | None, str]]] = {}
    done = 0
    for index, found in options.fan_out(reader, chunks):
        results[index] = found
        done += len(found)
        if progress is not None:
            progress(done, total)
        if stopped():
            break
    return [found for index in sorted(results) for found in results[index]]


def _custom_reader(
    classifiers: tuple[GrokClassifier | XmlClassifier | JsonClassifier, ...],
) -> Callable[[bytes, int], FileSchema | None] | None:
    if not classifiers:
        return None

    def read(data: bytes, size: int) -> FileSchema | None:
        for classifier in classifiers:
            if isinstance(classifier, GrokClassifier):
                found = grok_schema(data, size, classifier)
            elif isinstance(classifier, JsonClassifier):
                found = json_schema(data, size, classifier)
            else:
                found = xml_schema(data, size, classifier)
            if found is not None:
                return found
        return None

    return read


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _uri(target: str, base: str, full: str) -> str:
    relative = full[len(base) :].lstrip("/")
    return target.rstrip("/") + ("/" + relative if relative else "")


def _depth(folder: str) -> int:
    return 0 if not folder else folder.count("/") + 1


def _group(leaves: dict[str, _Leaf], options: Options) -> list[tuple[str, list[_Leaf]]]:
    """Table roots (relative folders) and the leaves each holds."""
    if options.table_level > 0:
        level = options.table_level - 1
        groups: dict[str, list[_Leaf]] = {}
        for folder, leaf in leaves.items():
            if _depth(folder) < level:
                continue
            root = "/".join(folder.split("/")[:level]) if level else ""
            groups.setdefault(root, []).append(leaf)
        return sorted(groups.items())
    out: list[tuple[str, list[_Leaf]]] = []
    _split("", sorted(leaves.values(), key=lambda leaf: leaf.folder), options, out)
    return out


def _split(
    root: str, leaves: list[_Leaf], options: Options, out: list[tuple[str, list[_Leaf]]]
) -> None:
    if not leaves:
        return
    depths = {_depth(leaf.folder) for leaf in leaves}
    if len(depths) == 1 and _compatible(leaves, options):
        out.append((root, leaves))
        return
    here = [leaf for leaf in leaves if leaf.folder == root]
    if here:
        # Files beside folders: a table of their own, at this folder.
        out.append((root, here))
    children: dict[str, list[_Leaf]] = {}
    start = _depth(root)
    for leaf in leaves:
        if leaf.folder == root:
            continue
        child = "/".join(leaf.folder.split("/")[: start + 1])
        children.setdefault(child, []).append(leaf)
    for child, members in sorted(children.items()):
        _split(child, members, options, out)


def _compatible(leaves: list[_Leaf], options: Options) -> bool:
    schemas = [s for leaf in leaves for s in leaf.schemas]
    if len({s.classification for s in schemas}) != 1:
        return False
    if options.combine_compatible_schemas:
        return True
    first = {c.name for c in schemas[0].columns}
    for schema in schemas[1:]:
        names = {c.name for c in schema.columns}
        union = first | names
        # One schema holding the other's columns is schema evolution, not another table.
        if first <= names or names <= first:
            continue
        if union and len(first & names) / len(union) < SIMILARITY:
            return False
    if schemas[0].classification == "csv":
        return len({(s.delimiter, s.header) for s in schemas}) == 1
    return True


def _custom_format(schema: FileSchema) -> tuple[str, str, str]:
    """Input/output formats and SerDe of a table a Grok or XML classifier made, as Glue's."""
    serde = (
        "com.ibm.spss.hive.serde2.xml.XmlSerDe"
        if "rowTag" in schema.serde_parameters
        else "com.amazonaws.glue.serde.GrokSerDe"
    )
    return FORMATS["csv"][0], FORMATS["csv"][1], serde


def _name(target: str, base: str, root: str, prefix: str, taken: set[str]) -> str:
    last = root.rsplit("/", 1)[-1] if root else posixpath.basename(base.rstrip("/")) or "root"
    name = prefix + (_NOT_NAME.sub("_", last.lower()).strip("_") or "table")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def _table(
    target: str, base: str, root: str, leaves: list[_Leaf], options: Options, taken: set[str]
) -> TableResult | None:
    schemas = [s for leaf in leaves for s in leaf.schemas]
    if not schemas:
        return None
    classification = schemas[0].classification
    if len({s.classification for s in schemas}) > 1:
        # Only with a pinned table level: the most common format wins, the others are left out.
        counts: dict[str, int] = {}
        for s in schemas:
            counts[s.classification] = counts.get(s.classification, 0) + 1
        classification = max(counts, key=lambda k: counts[k])
        schemas = [s for s in schemas if s.classification == classification]
        leaves = [
            leaf for leaf in leaves if any(s.classification == classification for s in leaf.schemas)
        ]
    start = _depth(root)
    depth = max(_depth(leaf.folder) for leaf in leaves) - start
    parts_of = {
        leaf.folder: leaf.folder.split("/")[start:] if leaf.folder else [] for leaf in leaves
    }
    keys = []
    for level in range(depth):
        names = {
            m.group(1) if (m := _HIVE_PART.match(p[level])) else None
            for p in parts_of.values()
            if len(p) > level
        }
        key = names.pop() if len(names) == 1 and None not in names else None
        keys.append(_NOT_NAME.sub("_", key.lower()) if key else f"partition_{level}")
    columns = merge_columns([s.columns for s in schemas])
    data_names = {c.name for c in columns}
    keys = [k if k not in data_names else f"{k}_partition" for k in keys]
    location = _uri(target, base, posixpath.join(base, root)) + "/"
    records = sum(s.record_count for s in schemas)
    sampled_size = sum(s.size for s in schemas)
    total_files = sum(leaf.files for leaf in leaves)
    sampled_files = len(schemas)
    scale = total_files / sampled_files if sampled_files else 1.0
    compression = schemas[0].compression
    parameters = {
        "classification": classification,
        "compressionType": compression,
        "recordCount": str(int(records * scale)),
        "averageRecordSize": str(sampled_size // records if records else 0),
        "objectCount": str(total_files),
        "sizeKey": str(int(sampled_size * scale)),
        "typeOfData": "file",
    }
    input_format, output_format, serde = FORMATS.get(classification, _custom_format(schemas[0]))
    serde_parameters = {"serialization.format": "1"}
    if classification == "csv":
        first = schemas[0]
        serde_parameters = {"field.delim": first.delimiter, "serialization.format": first.delimiter}
        parameters["delimiter"] = first.delimiter
        if first.header:
            parameters["skip.header.line.count"] = "1"
        if any('"' in s.quote for s in schemas) and first.quote != '"':
            serde_parameters["quoteChar"] = first.quote
    elif classification == "json":
        serde_parameters = {"paths": ",".join(c.name for c in columns)}
    elif classification not in FORMATS:
        serde_parameters = dict(schemas[0].serde_parameters)
    partitions = []
    if depth:
        for leaf in sorted(leaves, key=lambda x: x.folder):
            parts = parts_of[leaf.folder]
            if len(parts) != depth:
                continue
            values = [m.group(2) if (m := _HIVE_PART.match(p)) else p for p in parts]
            leaf_records = sum(s.record_count for s in leaf.schemas)
            partitions.append(
                Partition(
                    values=values,
                    location=_uri(target, base, posixpath.join(base, leaf.folder)) + "/",
                    columns=merge_columns([s.columns for s in leaf.schemas]),
                    parameters={
                        "classification": classification,
                        "compressionType": compression,
                        "recordCount": str(leaf_records),
                        "objectCount": str(leaf.files),
                    },
                )
            )
    return TableResult(
        name=_name(target, base, root, options.table_prefix, taken),
        location=location,
        classification=classification,
        columns=columns,
        partition_keys=keys,
        partitions=partitions,
        parameters=parameters,
        serde=serde,
        serde_parameters=serde_parameters,
        input_format=input_format,
        output_format=output_format,
    )
