"""Hive metastore Thrift objects <-> Sluice catalog messages (Glue's shapes).

Glue's Data Catalog is Hive's metastore model in other words: a Table's StorageDescriptor,
SerDeInfo, columns and partition keys map field by field. What Hive has and Glue has not
(privileges, skew info, temporary tables) is dropped; what Glue has and Hive has not (column
parameters, version ids) is left out of the Thrift answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from google.protobuf.timestamp_pb2 import Timestamp
from hmsclient.genthrift.hive_metastore import ttypes

from sluice.catalog.v1 import types_pb2

# Hive keeps a table's comment among its parameters; Glue has a field for it.
COMMENT_PARAMETER = "comment"


def _seconds(stamp: Timestamp, has: bool) -> int:
    return int(stamp.seconds) if has else 0


def _timestamp(seconds: int | None) -> Timestamp | None:
    return Timestamp(seconds=seconds) if seconds else None


def _columns(fields: Iterable[ttypes.FieldSchema] | None) -> list[types_pb2.Column]:
    return [
        types_pb2.Column(name=field.name or "", type=field.type or "", comment=field.comment or "")
        for field in fields or ()
    ]


def _fields(columns: Iterable[types_pb2.Column]) -> list[ttypes.FieldSchema]:
    return [
        ttypes.FieldSchema(name=c.name, type=c.type, comment=c.comment or None) for c in columns
    ]


def storage_to_proto(sd: ttypes.StorageDescriptor | None) -> types_pb2.StorageDescriptor | None:
    """Hive's StorageDescriptor as Glue's."""
    if sd is None:
        return None
    serde = sd.serdeInfo
    return types_pb2.StorageDescriptor(
        columns=_columns(sd.cols),
        location=sd.location or "",
        input_format=sd.inputFormat or "",
        output_format=sd.outputFormat or "",
        compressed=bool(sd.compressed),
        number_of_buckets=sd.numBuckets if sd.numBuckets is not None else 0,
        serde_info=types_pb2.SerDeInfo(
            name=serde.name or "",
            serialization_library=serde.serializationLib or "",
            parameters=dict(serde.parameters or {}),
        )
        if serde is not None
        else None,
        bucket_columns=list(sd.bucketCols or ()),
        sort_columns=[
            types_pb2.Order(column=o.col or "", sort_order=o.order or 0) for o in sd.sortCols or ()
        ],
        parameters=dict(sd.parameters or {}),
        stored_as_sub_directories=bool(sd.storedAsSubDirectories),
    )


def storage_to_thrift(sd: types_pb2.StorageDescriptor) -> ttypes.StorageDescriptor:
    """Glue's StorageDescriptor as Hive's."""
    serde = sd.serde_info
    return ttypes.StorageDescriptor(
        cols=_fields(sd.columns),
        location=sd.location or None,
        inputFormat=sd.input_format or None,
        outputFormat=sd.output_format or None,
        compressed=sd.compressed,
        # Hive's "no buckets" is -1; Glue's is 0 or -1.
        numBuckets=sd.number_of_buckets if sd.number_of_buckets > 0 else -1,
        serdeInfo=ttypes.SerDeInfo(
            name=serde.name or None,
            serializationLib=serde.serialization_library or None,
            parameters=dict(serde.parameters),
        ),
        bucketCols=list(sd.bucket_columns),
        sortCols=[ttypes.Order(col=o.column, order=o.sort_order) for o in sd.sort_columns],
        parameters=dict(sd.parameters),
        skewedInfo=ttypes.SkewedInfo(
            skewedColNames=[], skewedColValues=[], skewedColValueLocationMaps={}
        ),
        storedAsSubDirectories=sd.stored_as_sub_directories,
    )


def database_to_proto(db: ttypes.Database) -> types_pb2.DatabaseInput:
    """Hive's Database as Glue's DatabaseInput."""
    return types_pb2.DatabaseInput(
        name=(db.name or "").lower(),
        description=db.description or "",
        location_uri=db.locationUri or "",
        parameters=dict(db.parameters or {}),
    )


def database_to_thrift(db: types_pb2.Database, default_location: str) -> ttypes.Database:
    """Glue's Database as Hive's; Hive clients need a location, so one is made up if missing."""
    return ttypes.Database(
        name=db.name,
        description=db.description or None,
        locationUri=db.location_uri or default_location,
        parameters=dict(db.parameters),
        ownerName="public",
        ownerType=ttypes.PrincipalType.ROLE,
    )


def table_to_proto(table: ttypes.Table) -> types_pb2.TableInput:
    """Hive's Table as Glue's TableInput."""
    parameters = dict(table.parameters or {})
    return types_pb2.TableInput(
        name=(table.tableName or "").lower(),
        description=parameters.get(COMMENT_PARAMETER, ""),
        owner=table.owner or "",
        last_access_time=_timestamp(table.lastAccessTime),
        retention=table.retention or 0,
        storage_descriptor=storage_to_proto(table.sd),
        partition_keys=_columns(table.partitionKeys),
        view_original_text=table.viewOriginalText or "",
        view_expanded_text=table.viewExpandedText or "",
        table_type=table.tableType or "",
        parameters=parameters,
    )


def table_to_thrift(table: types_pb2.Table) -> ttypes.Table:
    """Glue's Table as Hive's."""
    parameters = dict(table.parameters)
    if table.description and COMMENT_PARAMETER not in parameters:
        parameters[COMMENT_PARAMETER] = table.description
    return ttypes.Table(
        tableName=table.name,
        dbName=table.database_name,
        owner=table.owner or None,
        createTime=_seconds(table.create_time, table.HasField("create_time")),
        lastAccessTime=_seconds(table.last_access_time, table.HasField("last_access_time")),
        retention=table.retention,
        sd=storage_to_thrift(table.storage_descriptor),
        partitionKeys=_fields(table.partition_keys),
        parameters=parameters,
        viewOriginalText=table.view_original_text or None,
        viewExpandedText=table.view_expanded_text or None,
        tableType=table.table_type or "EXTERNAL_TABLE",
        temporary=False,
        rewriteEnabled=False,
    )


def partition_to_proto(partition: ttypes.Partition) -> types_pb2.PartitionInput:
    """Hive's Partition as Glue's PartitionInput."""
    return types_pb2.PartitionInput(
        values=list(partition.values or ()),
        last_access_time=_timestamp(partition.lastAccessTime),
        storage_descriptor=storage_to_proto(partition.sd),
        parameters=dict(partition.parameters or {}),
    )


def partition_to_thrift(partition: types_pb2.Partition) -> ttypes.Partition:
    """Glue's Partition as Hive's."""
    return ttypes.Partition(
        values=list(partition.values),
        dbName=partition.database_name,
        tableName=partition.table_name,
        createTime=_seconds(partition.creation_time, partition.HasField("creation_time")),
        lastAccessTime=_seconds(partition.last_access_time, partition.HasField("last_access_time")),
        sd=storage_to_thrift(partition.storage_descriptor),
        parameters=dict(partition.parameters),
    )


def function_to_thrift(db_name: str, function: types_pb2.UserDefinedFunction) -> ttypes.Function:
    """Glue's UserDefinedFunction as Hive's Function (Hive's ResourceType numbers are Glue's)."""
    return ttypes.Function(
        functionName=function.function_name,
        dbName=function.database_name or db_name,
        className=function.class_name,
        ownerName=function.owner_name or None,
        ownerType=function.owner_type or ttypes.PrincipalType.USER,
        createTime=_seconds(function.create_time, function.HasField("create_time")),
        functionType=ttypes.FunctionType.JAVA,
        resourceUris=[
            ttypes.ResourceUri(resourceType=r.resource_type or 1, uri=r.uri)
            for r in function.resource_uris
        ],
    )


def function_to_proto(function: ttypes.Function) -> types_pb2.UserDefinedFunctionInput:
    """Hive's Function as Glue's UserDefinedFunctionInput."""
    return types_pb2.UserDefinedFunctionInput(
        function_name=(function.functionName or "").lower(),
        class_name=function.className or "",
        owner_name=function.ownerName or "",
        owner_type=function.ownerType or types_pb2.PRINCIPAL_TYPE_USER,
        resource_uris=[
            types_pb2.ResourceUri(resource_type=r.resourceType or 1, uri=r.uri or "")
            for r in function.resourceUris or ()
        ],
    )


def partition_name(keys: Sequence[str], values: Sequence[str]) -> str:
    """Hive's partition name, 'year=2024/region=eu', with Hive's path escaping."""
    return "/".join(f"{_escape(k)}={_escape(v)}" for k, v in zip(keys, values, strict=True))


def values_from_name(keys: Sequence[str], name: str) -> list[str]:
    """The values of partition `name` ('year=2024/region=eu'), in `keys`' order."""
    spec: dict[str, str] = {}
    for part in name.split("/"):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"invalid partition name {name!r}")
        spec[_unescape(key).lower()] = _unescape(value)
    return values_from_spec(keys, spec)


def values_from_spec(keys: Sequence[str], spec: Mapping[str, str]) -> list[str]:
    """The values of a partition spec ({'year': '2024', ...}), in `keys`' order."""
    lowered = {k.lower(): v for k, v in spec.items()}
    missing = [k for k in keys if k.lower() not in lowered]
    if missing:
        raise ValueError(f"the partition spec lacks {', '.join(missing)}")
    return [lowered[k.lower()] for k in keys]


# Characters Hive's FileUtils.escapePathName escapes as %XX.
_ESCAPED = set("\"#%'*/:=?\\\x7f{[]^") | {chr(c) for c in range(1, 32)}


def _escape(text: str) -> str:
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPED else ch for ch in text)


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "%" and _is_hex(text[i + 1 : i + 3]):
            out.append(chr(int(text[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in text)
