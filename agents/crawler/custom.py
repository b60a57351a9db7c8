"""Custom Grok and XML classifiers: a file they match takes their classification and the
columns they name (Glue tries a crawler's custom classifiers before its built-in ones).

Grok: `%{PATTERN:name}` or `%{PATTERN:name:int|long|float|double|boolean}` over a built-in
pattern library (the common Logstash ones) plus the classifier's custom patterns (`NAME regex`
per line); a file matches when every sampled non-empty line does. XML: the children (and
attributes) of each `row_tag` element are the columns.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sluice.agents.crawler.formats import Column, FileSchema, FormatError, json_records_schema

_GROK_BASE = {
    "USERNAME": r"[a-zA-Z0-9._-]+",
    "USER": r"%{USERNAME}",
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "BASE10NUM": r"(?:[+-]?(?:(?:[0-9]+(?:\.[0-9]+)?)|(?:\.[0-9]+)))",
    "NUMBER": r"(?:%{BASE10NUM})",
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NONNEGINT": r"\b(?:[0-9]+)\b",
    "WORD": r"\b\w+\b",
    "NOTSPACE": r"\S+",
    "SPACE": r"\s*",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "QUOTEDSTRING": r'"(?:[^"\\]|\\.)*"',
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    "IPV4": r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)",
    "IPV6": r"(?:[A-Fa-f0-9]{0,4}:){2,7}[A-Fa-f0-9]{0,4}",
    "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*\.?\b",
    "IPORHOST": r"(?:%{IP}|%{HOSTNAME})",
    "URIPATH": r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+",
    "YEAR": r"(?:\d\d){1,2}",
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",
    "ISO8601_TIMEZONE": r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
    "TIMESTAMP_ISO8601": (
        r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?"
        r"%{ISO8601_TIMEZONE}?"
    ),
    "LOGLEVEL": (
        r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO"
        r"|[Ww]arn(?:ing)?|WARN(?:ING)?|[Ee]rr(?:or)?|ERR(?:OR)?|[Cc]rit(?:ical)?|CRIT(?:ICAL)?"
        r"|[Ff]atal|FATAL|[Ss]evere|SEVERE)"
    ),
}
_REFERENCE = re.compile(r"%\{(\w+)(?::([\w.\-]+))?(?::(\w+))?\}")
_TYPES = {
    "int": "int",
    "long": "bigint",
    "float": "float",
    "double": "double",
    "boolean": "boolean",
}
_MAX_DEPTH = 20


@dataclass(frozen=True)
class GrokClassifier:
    classification: str
    pattern: str
    custom_patterns: str = ""


@dataclass(frozen=True)
class JsonClassifier:
    """Glue's JSON classifier: json_path (`$[*]`, `$.records[*]`, `$.a.b`) selects the records."""

    json_path: str


_PATH_STEP = re.compile(r"\.([A-Za-z_][\w\-]*)|\[(\*|\d+)\]|\['([^']+)'\]")


def json_path_records(document: object, path: str) -> list[dict]:
    """The records path selects in document.

    Raises:
        FormatError: The path is not one Sluice reads.
    """
    if not path.startswith("$"):
        raise FormatError(f"JSON path {path!r} must start with $")
    nodes: list[object] = [document]
    position = 1
    while position < len(path):
        m = _PATH_STEP.match(path, position)
        if m is None:
            raise FormatError(f"JSON path {path!r} is not supported at {path[position:]!r}")
        key, index = m.group(1) or m.group(3), m.group(2)
        following: list[object] = []
        for node in nodes:
            if key is not None and isinstance(node, dict) and key in node:
                following.append(node[key])
            elif index == "*" and isinstance(node, list):
                following.extend(node)
            elif index not in (None, "*") and isinstance(node, list) and int(index) < len(node):
                following.append(node[int(index)])
        nodes = following
        position = m.end()
    return [n for n in nodes if isinstance(n, dict)]


def json_schema(data: bytes, size: int, classifier: JsonClassifier) -> FileSchema | None:
    """The schema of a JSON document whose records the classifier's path selects."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    records = json_path_records(document, classifier.json_path)
    return json_records_schema(records, size) if records else None


@dataclass(frozen=True)
class XmlClassifier:
    classification: str
    row_tag: str


def _library(custom: str) -> dict[str, str]:
    patterns = dict(_GROK_BASE)
    for line in custom.splitlines():
        name, _, regex = line.strip().partition(" ")
        if name and regex and not name.startswith("#"):
            patterns[name] = regex.strip()
    return patterns


def compile_grok(pattern: str, custom: str = "") -> tuple[re.Pattern[str], list[Column]]:
    """The regex of a grok pattern and the columns its named captures make.

    Raises:
        FormatError: It names an unknown pattern, nests too deep, or is not a valid regex.
    """
    library = _library(custom)
    columns: list[Column] = []

    def expand(text: str, depth: int, top: bool) -> str:
        if depth > _MAX_DEPTH:
            raise FormatError("grok patterns nest too deep")

        def one(m: re.Match[str]) -> str:
            name, field, kind = m.group(1), m.group(2), m.group(3)
            if name not in library:
                raise FormatError(f"grok pattern {name} is not known")
            inner = expand(library[name], depth + 1, False)
            if field and top:
                group = f"c{len(columns)}"
                columns.append(Column(field.lower(), _TYPES.get(kind or "", "string")))
                return f"(?P<{group}>{inner})"
            return f"(?:{inner})"

        return _REFERENCE.sub(one, text)

    try:
        regex = re.compile(expand(pattern, 0, True))
    except re.error as exc:
        raise FormatError(f"grok pattern is not valid: {exc}") from None
    return regex, columns


def grok_schema(data: bytes, size: int, classifier: GrokClassifier) -> FileSchema | None:
    """The schema of a text file if every sampled line matches the grok pattern."""
    regex, columns = compile_grok(classifier.pattern, classifier.custom_patterns)
    try:
        lines = [line for line in data.decode("utf-8").splitlines()[:200] if line.strip()]
    except UnicodeDecodeError:
        return None
    if not lines or not all(regex.fullmatch(line) for line in lines):
        return None
    return FileSchema(
        classifier.classification,
        columns,
        data.count(b"\n") or 1,
        size,
        serde_parameters={"input.format": classifier.pattern},
    )


def xml_schema(data: bytes, size: int, classifier: XmlClassifier) -> FileSchema | None:
    """The schema of an XML file whose row_tag elements hold the records."""
    names: dict[str, str] = {}
    rows = 0
    try:
        for _, element in ET.iterparse(io.BytesIO(data), events=("end",)):
            if element.tag != classifier.row_tag:
                continue
            rows += 1
            for key, value in element.attrib.items():
                names[key.lower()] = _widen(names.get(key.lower()), _kind(value))
            for child in element:
                text = (child.text or "").strip()
                kind = "string" if len(child) else _kind(text)
                names[child.tag.lower()] = _widen(names.get(child.tag.lower()), kind)
            element.clear()
    except ET.ParseError:
        if rows == 0:
            return None
    if rows == 0:
        return None
    return FileSchema(
        classifier.classification,
        [Column(n, t) for n, t in names.items()],
        rows,
        size,
        serde_parameters={"rowTag": classifier.row_tag},
    )


def _kind(text: str) -> str:
    if re.fullmatch(r"[+-]?\d{1,18}", text):
        return "bigint"
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", text):
        return "double"
    if text.lower() in ("true", "false"):
        return "boolean"
    return "string"


def _widen(a: str | None, b: str) -> str:
    if a is None or a == b:
        return b
    if {a, b} == {"bigint", "double"}:
        return "double"
    return "string"
