"""Data formats: how Spark reads and writes each, from Glue's format options, and how the
catalog describes each (input/output formats and SerDe of a storage descriptor)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMATS = ("csv", "json", "parquet", "orc", "avro")
_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
# format -> (input format, output format, SerDe)
_STORAGE: Mapping[str, tuple[str, str, str]] = {
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
    "json": (_TEXT_INPUT, _TEXT_OUTPUT, "org.openx.data.jsonserde.JsonSerDe"),
    "csv": (_TEXT_INPUT, _TEXT_OUTPUT, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"),
    "avro": (
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
        "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
    ),
}
# Glue's CSV format options -> Spark's.
_CSV_OPTIONS = {
    "separator": "sep",
    "quoteChar": "quote",
    "escaper": "escape",
    "withHeader": "header",
    "multiLine": "multiLine",
}


def checked_format(name: str | None) -> str:
    fmt = (name or "").lower()
    if fmt not in FORMATS:
        raise ValueError(f"format {name!r} is not one of {', '.join(FORMATS)}")
    return fmt


def spark_format(fmt: str) -> str:
    return "avro" if fmt == "avro" else fmt


def read_options(fmt: str, format_options: Mapping[str, Any]) -> dict[str, str]:
    """Spark reader options for Glue's format options."""
    options: dict[str, str] = {}
    if fmt == "csv":
        options["inferSchema"] = "true"
        for glue, spark in _CSV_OPTIONS.items():
            if glue in format_options:
                options[spark] = _text(format_options[glue])
    elif fmt == "json" and "multiLine" in format_options:
        options["multiLine"] = _text(format_options["multiLine"])
    return options


def write_options(fmt: str, format_options: Mapping[str, Any]) -> dict[str, str]:
    """Spark writer options for Glue's format options (CSV files get a header unless
    writeHeader is false, as Glue writes them)."""
    options: dict[str, str] = {}
    if fmt == "csv":
        options["header"] = _text(format_options.get("writeHeader", True))
        if "separator" in format_options:
            options["sep"] = _text(format_options["separator"])
        if "quoteChar" in format_options:
            options["quote"] = _text(format_options["quoteChar"])
    if "compression" in format_options:
        options["compression"] = _text(format_options["compression"])
    return options


def format_of_table(parameters: Mapping[str, str], input_format: str, serde: str) -> str:
    """A catalog table's data format: its classification, else what its storage classes say."""
    classification = parameters.get("classification", "").lower()
    if classification in FORMATS:
        return classification
    described = (input_format + " " + serde).lower()
    for fmt in ("parquet", "orc", "avro", "json"):
        if fmt in described:
            return fmt
    if "csv" in described or "lazysimpleserde" in described or "textinputformat" in described:
        return "csv"
    raise ValueError(
        f"cannot tell the data format of the table ({input_format or 'no input format'})"
    )


def table_read_options(
    fmt: str, table_parameters: Mapping[str, str], serde_parameters: Mapping[str, str]
) -> dict[str, str]:
    """Spark reader options for a catalog table's text formats."""
    if fmt != "csv":
        return {}
    options = {
        "header": "true" if table_parameters.get("skip.header.line.count") == "1" else "false"
    }
    separator = serde_parameters.get("separatorChar") or serde_parameters.get("field.delim")
    if separator:
        options["sep"] = separator
    if serde_parameters.get("quoteChar"):
        options["quote"] = serde_parameters["quoteChar"]
    return options


def storage_descriptor(fmt: str, location: str, columns: list[dict[str, str]]) -> dict[str, Any]:
    """A catalog storage descriptor for files of fmt at location."""
    input_format, output_format, serde = _STORAGE[fmt]
    serde_info: dict[str, Any] = {"serialization_library": serde}
    if fmt == "csv":
        serde_info["parameters"] = {"field.delim": ","}
    return {
        "columns": columns,
        "location": location,
        "input_format": input_format,
        "output_format": output_format,
        "serde_info": serde_info,
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
