"""Inputs as generated messages or plain dicts."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from sluice.catalog.v1 import types_pb2
from sluice.sdk.messages import to_message, to_messages, to_value_list, to_values

pytestmark = pytest.mark.unit

ORDERS = {
    "name": "orders",
    "storage_descriptor": {
        "columns": [{"name": "id", "type": "bigint"}],
        "location": "s3://bucket/orders/",
    },
    "partition_keys": [{"name": "dt", "type": "string"}],
    "parameters": {"classification": "parquet"},
    "last_access_time": "2024-01-02T03:04:05Z",
}


def test_a_message_is_returned_as_it_is() -> None:
    message = types_pb2.DatabaseInput(name="sales")

    assert to_message(message, types_pb2.DatabaseInput) is message


def test_a_dict_becomes_the_message() -> None:
    table = to_message(ORDERS, types_pb2.TableInput)

    assert table.name == "orders"
    assert [(c.name, c.type) for c in table.storage_descriptor.columns] == [("id", "bigint")]
    assert table.partition_keys[0].name == "dt"
    assert dict(table.parameters) == {"classification": "parquet"}
    assert table.last_access_time.ToJsonString() == "2024-01-02T03:04:05Z"


def test_enums_by_name() -> None:
    function = to_message(
        {
            "function_name": "f",
            "owner_type": "PRINCIPAL_TYPE_ROLE",
            "resource_uris": [{"resource_type": "RESOURCE_TYPE_JAR", "uri": "s3://b/f.jar"}],
        },
        types_pb2.UserDefinedFunctionInput,
    )

    assert function.owner_type == types_pb2.PRINCIPAL_TYPE_ROLE
    assert function.resource_uris[0].resource_type == types_pb2.RESOURCE_TYPE_JAR


def test_unknown_field_is_named_by_its_path() -> None:
    bad = {"name": "t", "storage_descriptor": {"columns": [{"name": "a", "typ": "int"}]}}

    with pytest.raises(ValueError, match=r"table_input\.storage_descriptor\.columns\[0\].*'typ'"):
        to_message(bad, types_pb2.TableInput, what="table_input")


def test_wrong_value_type_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="retention"):
        to_message({"name": "t", "retention": "forever"}, types_pb2.TableInput)


def test_another_message_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"sluice\.catalog\.v1\.TableInput"):
        to_message(types_pb2.DatabaseInput(name="x"), types_pb2.TableInput)


@pytest.mark.parametrize("value", ["sales", 3, None, ["name", "sales"]])
def test_neither_message_nor_mapping_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="DatabaseInput"):
        to_message(value, types_pb2.DatabaseInput)  # type: ignore[arg-type]


def test_a_list_names_the_bad_position() -> None:
    with pytest.raises(ValueError, match=r"partitions\[1\]"):
        to_messages(
            [{"values": ["a"]}, {"valuez": ["b"]}], types_pb2.PartitionInput, what="partitions"
        )


def test_a_single_string_is_not_a_list_of_values() -> None:
    with pytest.raises(TypeError, match="single str"):
        to_values("2024")


def test_values_must_be_strings() -> None:
    with pytest.raises(TypeError, match="2024"):
        to_values([2024])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "value",
    [
        ["2024", "01"],
        ("2024", "01"),
        {"values": ["2024", "01"]},
        types_pb2.PartitionValueList(values=["2024", "01"]),
    ],
)
def test_value_list_forms(value: object) -> None:
    assert list(to_value_list(value, what="p").values) == ["2024", "01"]  # type: ignore[arg-type]


@given(
    values=st.lists(st.text(), max_size=5),
    parameters=st.dictionaries(st.text(), st.text(), max_size=3),
    location=st.text(),
    columns=st.lists(st.tuples(st.text(), st.text()), max_size=3),
    seconds=st.integers(min_value=0, max_value=253402300799),
)
def test_what_a_message_prints_reads_back(
    values: list[str],
    parameters: dict[str, str],
    location: str,
    columns: list[tuple[str, str]],
    seconds: int,
) -> None:
    # What a command line reads back from a resource (snake_case, nested, timestamps) is
    # accepted as input again and means the same.
    original = types_pb2.PartitionInput(
        values=values,
        parameters=parameters,
        storage_descriptor=types_pb2.StorageDescriptor(
            location=location, columns=[types_pb2.Column(name=n, type=t) for n, t in columns]
        ),
    )
    original.last_access_time.FromSeconds(seconds)

    document = json_format.MessageToDict(original, preserving_proto_field_name=True)

    assert to_message(document, types_pb2.PartitionInput) == original
