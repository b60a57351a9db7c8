from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CatalogEntry(_message.Message):
    __slots__ = ("database_name", "table_name")
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    database_name: str
    table_name: str
    def __init__(self, database_name: _Optional[str] = ..., table_name: _Optional[str] = ...) -> None: ...

class MappingEntry(_message.Message):
    __slots__ = ("source_table", "source_path", "source_type", "target_table", "target_path", "target_type")
    SOURCE_TABLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_TABLE_FIELD_NUMBER: _ClassVar[int]
    TARGET_PATH_FIELD_NUMBER: _ClassVar[int]
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    source_table: str
    source_path: str
    source_type: str
    target_table: str
    target_path: str
    target_type: str
    def __init__(self, source_table: _Optional[str] = ..., source_path: _Optional[str] = ..., source_type: _Optional[str] = ..., target_table: _Optional[str] = ..., target_path: _Optional[str] = ..., target_type: _Optional[str] = ...) -> None: ...

class CodeGenNodeArg(_message.Message):
    __slots__ = ("name", "value", "param")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PARAM_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    param: bool
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., param: _Optional[bool] = ...) -> None: ...

class CodeGenNode(_message.Message):
    __slots__ = ("id", "node_type", "args", "line_number")
    ID_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    LINE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    id: str
    node_type: str
    args: _containers.RepeatedCompositeFieldContainer[CodeGenNodeArg]
    line_number: int
    def __init__(self, id: _Optional[str] = ..., node_type: _Optional[str] = ..., args: _Optional[_Iterable[_Union[CodeGenNodeArg, _Mapping]]] = ..., line_number: _Optional[int] = ...) -> None: ...

class CodeGenEdge(_message.Message):
    __slots__ = ("source", "target", "target_parameter")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TARGET_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    target_parameter: str
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ..., target_parameter: _Optional[str] = ...) -> None: ...

class Location(_message.Message):
    __slots__ = ("jdbc", "s3")
    JDBC_FIELD_NUMBER: _ClassVar[int]
    S3_FIELD_NUMBER: _ClassVar[int]
    jdbc: _containers.RepeatedCompositeFieldContainer[CodeGenNodeArg]
    s3: _containers.RepeatedCompositeFieldContainer[CodeGenNodeArg]
    def __init__(self, jdbc: _Optional[_Iterable[_Union[CodeGenNodeArg, _Mapping]]] = ..., s3: _Optional[_Iterable[_Union[CodeGenNodeArg, _Mapping]]] = ...) -> None: ...

class GetMappingRequest(_message.Message):
    __slots__ = ("source", "sinks", "location")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SINKS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    source: CatalogEntry
    sinks: _containers.RepeatedCompositeFieldContainer[CatalogEntry]
    location: Location
    def __init__(self, source: _Optional[_Union[CatalogEntry, _Mapping]] = ..., sinks: _Optional[_Iterable[_Union[CatalogEntry, _Mapping]]] = ..., location: _Optional[_Union[Location, _Mapping]] = ...) -> None: ...

class GetMappingResponse(_message.Message):
    __slots__ = ("mapping",)
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    mapping: _containers.RepeatedCompositeFieldContainer[MappingEntry]
    def __init__(self, mapping: _Optional[_Iterable[_Union[MappingEntry, _Mapping]]] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ("mapping", "source", "sinks", "location", "language", "additional_plan_options_map")
    class AdditionalPlanOptionsMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SINKS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_PLAN_OPTIONS_MAP_FIELD_NUMBER: _ClassVar[int]
    mapping: _containers.RepeatedCompositeFieldContainer[MappingEntry]
    source: CatalogEntry
    sinks: _containers.RepeatedCompositeFieldContainer[CatalogEntry]
    location: Location
    language: str
    additional_plan_options_map: _containers.ScalarMap[str, str]
    def __init__(self, mapping: _Optional[_Iterable[_Union[MappingEntry, _Mapping]]] = ..., source: _Optional[_Union[CatalogEntry, _Mapping]] = ..., sinks: _Optional[_Iterable[_Union[CatalogEntry, _Mapping]]] = ..., location: _Optional[_Union[Location, _Mapping]] = ..., language: _Optional[str] = ..., additional_plan_options_map: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetPlanResponse(_message.Message):
    __slots__ = ("python_script", "scala_code")
    PYTHON_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    SCALA_CODE_FIELD_NUMBER: _ClassVar[int]
    python_script: str
    scala_code: str
    def __init__(self, python_script: _Optional[str] = ..., scala_code: _Optional[str] = ...) -> None: ...

class CreateScriptRequest(_message.Message):
    __slots__ = ("dag_nodes", "dag_edges", "language")
    DAG_NODES_FIELD_NUMBER: _ClassVar[int]
    DAG_EDGES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    dag_nodes: _containers.RepeatedCompositeFieldContainer[CodeGenNode]
    dag_edges: _containers.RepeatedCompositeFieldContainer[CodeGenEdge]
    language: str
    def __init__(self, dag_nodes: _Optional[_Iterable[_Union[CodeGenNode, _Mapping]]] = ..., dag_edges: _Optional[_Iterable[_Union[CodeGenEdge, _Mapping]]] = ..., language: _Optional[str] = ...) -> None: ...

class CreateScriptResponse(_message.Message):
    __slots__ = ("python_script", "scala_code")
    PYTHON_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    SCALA_CODE_FIELD_NUMBER: _ClassVar[int]
    python_script: str
    scala_code: str
    def __init__(self, python_script: _Optional[str] = ..., scala_code: _Optional[str] = ...) -> None: ...

class GetDataflowGraphRequest(_message.Message):
    __slots__ = ("python_script",)
    PYTHON_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    python_script: str
    def __init__(self, python_script: _Optional[str] = ...) -> None: ...

class GetDataflowGraphResponse(_message.Message):
    __slots__ = ("dag_nodes", "dag_edges")
    DAG_NODES_FIELD_NUMBER: _ClassVar[int]
    DAG_EDGES_FIELD_NUMBER: _ClassVar[int]
    dag_nodes: _containers.RepeatedCompositeFieldContainer[CodeGenNode]
    dag_edges: _containers.RepeatedCompositeFieldContainer[CodeGenEdge]
    def __init__(self, dag_nodes: _Optional[_Iterable[_Union[CodeGenNode, _Mapping]]] = ..., dag_edges: _Optional[_Iterable[_Union[CodeGenEdge, _Mapping]]] = ...) -> None: ...
