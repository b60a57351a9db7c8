"""Conversions between API messages and domain objects: round trips, enums, presence."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.catalog.core import model
from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import types_pb2 as pb
from sluice.common.errors import InvalidInput
from sluice.common.paging import Segment
from sluice.control_plane.convert.common import datetime_from, page_request, required, timestamp
from sluice.control_plane.convert.connections import (
    connection_input_from_proto,
    connection_to_proto,
    connections_filter_from_proto,
    is_secret_property,
)
from sluice.control_plane.convert.databases import database_input_from_proto, database_to_proto
from sluice.control_plane.convert.functions import (
    function_input_from_proto,
    function_to_proto,
    principal_type_from_proto,
    resource_type_from_proto,
)
from sluice.control_plane.convert.partitions import (
    partition_error_to_proto,
    partition_input_from_proto,
    partition_to_proto,
    table_error_to_proto,
    update_entry_from_proto,
    update_failure_to_proto,
    value_lists_from_proto,
    value_lists_to_proto,
)
from sluice.control_plane.convert.tables import (
    comparator_from_proto,
    predicate_from_proto,
    sort_criterion_from_proto,
    table_input_from_proto,
    table_to_proto,
    table_version_to_proto,
)

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

texts = st.text(max_size=12)
maps = st.dictionaries(texts, texts, max_size=3)
stamps = st.builds(
    lambda s, us: Timestamp(seconds=s, nanos=us * 1000),
    st.integers(-62135596800, 253402300799),
    st.integers(0, 999_999),
)
columns = st.builds(pb.Column, name=texts, type=texts, comment=texts, parameters=maps)
serdes = st.builds(pb.SerDeInfo, name=texts, serialization_library=texts, parameters=maps)
orders = st.builds(pb.Order, column=texts, sort_order=st.integers(0, 1))
storage_descriptors = st.builds(
    pb.StorageDescriptor,
    columns=st.lists(columns, max_size=3),
    location=texts,
    additional_locations=st.lists(texts, max_size=2),
    input_format=texts,
    output_format=texts,
    compressed=st.booleans(),
    number_of_buckets=st.integers(-1, 64),
    serde_info=st.none() | serdes,
    bucket_columns=st.lists(texts, max_size=2),
    sort_columns=st.lists(orders, max_size=2),
    parameters=maps,
    stored_as_sub_directories=st.booleans(),
)
database_inputs = st.builds(
    pb.DatabaseInput, name=texts, description=texts, location_uri=texts, parameters=maps
)
table_inputs = st.builds(
    pb.TableInput,
    name=texts,
    description=texts,
    owner=texts,
    last_access_time=st.none() | stamps,
    retention=st.integers(0, 2**31 - 1),
    storage_descriptor=st.none() | storage_descriptors,
    partition_keys=st.lists(columns, max_size=3),
    view_original_text=texts,
    view_expanded_text=texts,
    table_type=texts,
    parameters=maps,
)
partition_inputs = st.builds(
    pb.PartitionInput,
    values=st.lists(texts, max_size=3),
    last_access_time=st.none() | stamps,
    storage_descriptor=st.none() | storage_descriptors,
    parameters=maps,
)
requirements = st.builds(
    pb.PhysicalConnectionRequirements,
    subnet_id=texts,
    security_group_id_list=st.lists(texts, max_size=2),
    availability_zone=texts,
)
connection_inputs = st.builds(
    pb.ConnectionInput,
    name=texts,
    description=texts,
    connection_type=st.sampled_from(sorted(model.CONNECTION_TYPES)),
    match_criteria=st.lists(texts, max_size=2),
    connection_properties=maps,
    physical_connection_requirements=st.none() | requirements,
)
resource_uris = st.builds(
    pb.ResourceUri,
    resource_type=st.sampled_from(
        [pb.RESOURCE_TYPE_JAR, pb.RESOURCE_TYPE_FILE, pb.RESOURCE_TYPE_ARCHIVE]
    ),
    uri=texts,
)
function_inputs = st.builds(
    pb.UserDefinedFunctionInput,
    function_name=texts,
    class_name=texts,
    owner_name=texts,
    owner_type=st.sampled_from(
        [pb.PRINCIPAL_TYPE_USER, pb.PRINCIPAL_TYPE_ROLE, pb.PRINCIPAL_TYPE_GROUP]
    ),
    resource_uris=st.lists(resource_uris, max_size=2),
)


def _fields_of(domain_input: Any) -> dict[str, Any]:
    return {f.name: getattr(domain_input, f.name) for f in dataclasses.fields(domain_input)}


def _assert_carried(source: Message, target: Message) -> None:
    """Every field of the input message arrives unchanged in the output message."""
    for descriptor in source.DESCRIPTOR.fields:
        name = descriptor.name
        if descriptor.message_type is not None and not descriptor.is_repeated:
            assert source.HasField(name) == target.HasField(name), name
        assert getattr(source, name) == getattr(target, name), name


@settings(max_examples=60, deadline=None)
@given(database_inputs)
def test_database_round_trip(message: pb.DatabaseInput) -> None:
    domain = database_input_from_proto(message)
    database = model.Database(catalog_id="c1", create_time=NOW, **_fields_of(domain))
    out = database_to_proto(database)
    _assert_carried(message, out)
    assert (out.catalog_id, out.create_time) == ("c1", timestamp(NOW))


@settings(max_examples=60, deadline=None)
@given(table_inputs)
def test_table_round_trip(message: pb.TableInput) -> None:
    domain = table_input_from_proto(message)
    table = model.Table(
        database_name="db",
        catalog_id="c1",
        create_time=NOW,
        update_time=NOW + timedelta(seconds=1),
        version_id="3",
        created_by="me",
        **_fields_of(domain),
    )
    out = table_to_proto(table)
    _assert_carried(message, out)
    assert (out.database_name, out.catalog_id, out.version_id, out.created_by) == (
        "db",
        "c1",
        "3",
        "me",
    )
    assert out.update_time.ToDatetime(tzinfo=UTC) == NOW + timedelta(seconds=1)
    version = table_version_to_proto(model.TableVersion(table=table, version_id="3"))
    assert version.table == out
    assert version.version_id == "3"


@settings(max_examples=60, deadline=None)
@given(partition_inputs)
def test_partition_round_trip(message: pb.PartitionInput) -> None:
    domain = partition_input_from_proto(message)
    partition = model.Partition(
        database_name="db",
        table_name="t",
        catalog_id="c1",
        creation_time=NOW,
        **_fields_of(domain),
    )
    out = partition_to_proto(partition)
    _assert_carried(message, out)
    assert (out.database_name, out.table_name, out.catalog_id) == ("db", "t", "c1")


@settings(max_examples=60, deadline=None)
@given(connection_inputs)
def test_connection_round_trip(message: pb.ConnectionInput) -> None:
    domain = connection_input_from_proto(message)
    connection = model.Connection(
        catalog_id="c1", creation_time=NOW, last_updated_time=NOW, **_fields_of(domain)
    )
    out = connection_to_proto(connection, hide_password=False)
    _assert_carried(message, out)


@settings(max_examples=60, deadline=None)
@given(function_inputs)
def test_function_round_trip(message: pb.UserDefinedFunctionInput) -> None:
    domain = function_input_from_proto(message)
    function = model.UserDefinedFunction(
        database_name="db", catalog_id="c1", create_time=NOW, **_fields_of(domain)
    )
    out = function_to_proto(function)
    _assert_carried(message, out)


def test_unset_messages_stay_unset() -> None:
    domain = table_input_from_proto(pb.TableInput(name="t"))
    assert domain.storage_descriptor is None
    assert domain.last_access_time is None
    sd = table_input_from_proto(
        pb.TableInput(name="t", storage_descriptor=pb.StorageDescriptor(location="s3://x"))
    ).storage_descriptor
    assert sd is not None
    assert sd.serde_info is None
    # An empty but present storage descriptor is still present.
    assert (
        partition_input_from_proto(
            pb.PartitionInput(storage_descriptor=pb.StorageDescriptor())
        ).storage_descriptor
        == model.StorageDescriptor()
    )


def test_timestamps_are_aware_utc() -> None:
    message = pb.TableInput(last_access_time=Timestamp(seconds=0, nanos=5000))
    value = datetime_from(message, "last_access_time")
    assert value == datetime(1970, 1, 1, 0, 0, 0, 5, tzinfo=UTC)
    assert value is not None
    assert value.tzinfo is UTC
    plus_two = timezone(timedelta(hours=2))
    assert timestamp(datetime(2024, 1, 1, 2, 0, tzinfo=plus_two)) == Timestamp(seconds=1704067200)
    assert timestamp(None) is None


@pytest.mark.parametrize("stamp", [Timestamp(seconds=253402300800), Timestamp(seconds=0, nanos=-1)])
def test_invalid_timestamp_is_invalid_input(stamp: Timestamp) -> None:
    with pytest.raises(InvalidInput, match="last_access_time is not a valid timestamp"):
        datetime_from(pb.PartitionInput(last_access_time=stamp), "last_access_time")


def test_comparators() -> None:
    pairs = {
        pb.COMPARATOR_EQUALS: model.Comparator.EQUALS,
        pb.COMPARATOR_GREATER_THAN: model.Comparator.GREATER_THAN,
        pb.COMPARATOR_LESS_THAN: model.Comparator.LESS_THAN,
        pb.COMPARATOR_GREATER_THAN_EQUALS: model.Comparator.GREATER_THAN_EQUALS,
        pb.COMPARATOR_LESS_THAN_EQUALS: model.Comparator.LESS_THAN_EQUALS,
    }
    assert {k: comparator_from_proto(k) for k in pairs} == pairs
    predicate = predicate_from_proto(
        pb.PropertyPredicate(key="owner", value="me", comparator=pb.COMPARATOR_LESS_THAN)
    )
    assert predicate == model.PropertyPredicate("owner", "me", model.Comparator.LESS_THAN)


@pytest.mark.parametrize("value", [pb.COMPARATOR_UNSPECIFIED, 42])
def test_unspecified_or_unknown_comparator_is_invalid(value: int) -> None:
    with pytest.raises(InvalidInput, match="comparator"):
        predicate_from_proto(pb.PropertyPredicate(key="k", comparator=value))  # type: ignore[arg-type]


def test_sort_directions() -> None:
    def sort(direction: int) -> model.SortCriterion:
        return sort_criterion_from_proto(pb.SortCriterion(field_name="name", sort=direction))  # type: ignore[arg-type]

    assert sort(pb.SORT_DIRECTION_UNSPECIFIED) == model.SortCriterion("name", ascending=True)
    assert sort(pb.SORT_DIRECTION_ASCENDING) == model.SortCriterion("name", ascending=True)
    assert sort(pb.SORT_DIRECTION_DESCENDING) == model.SortCriterion("name", ascending=False)
    with pytest.raises(InvalidInput):
        sort(7)


def test_principal_and_resource_types() -> None:
    assert principal_type_from_proto(pb.PRINCIPAL_TYPE_UNSPECIFIED) is model.PrincipalType.USER
    assert principal_type_from_proto(pb.PRINCIPAL_TYPE_GROUP) is model.PrincipalType.GROUP
    with pytest.raises(InvalidInput, match="owner_type"):
        principal_type_from_proto(9)
    assert resource_type_from_proto(pb.RESOURCE_TYPE_FILE) is model.ResourceType.FILE
    for value in (pb.RESOURCE_TYPE_UNSPECIFIED, 9):
        with pytest.raises(InvalidInput, match="resource_type"):
            resource_type_from_proto(value)
    unspecified_owner = function_input_from_proto(
        pb.UserDefinedFunctionInput(function_name="f", class_name="C")
    )
    assert unspecified_owner.owner_type is model.PrincipalType.USER


def test_page_request_and_segment_presence() -> None:
    plain = page_request(api.GetTablesRequest(max_results=5, next_token="tok"))
    assert (plain.max_results, plain.next_token, plain.segment) == (5, "tok", None)
    segmented = page_request(
        api.GetDatabasesRequest(segment=pb.Segment(segment_number=1, total_segments=3))
    )
    assert segmented.segment == Segment(1, 3)
    empty = page_request(api.GetPartitionsRequest(segment=pb.Segment()))
    assert empty.segment == Segment(0, 0)


def test_required_message_field() -> None:
    request = api.CreateDatabaseRequest(database_input=pb.DatabaseInput(name="d"))
    assert required(request, "database_input").name == "d"
    with pytest.raises(InvalidInput, match="database_input is required"):
        required(api.CreateDatabaseRequest(), "database_input")
    with pytest.raises(InvalidInput, match="partition_input is required"):
        update_entry_from_proto(pb.BatchUpdatePartitionRequestEntry(partition_value_list=["1"]))


def test_hide_password_removes_secret_properties() -> None:
    properties = {
        "PASSWORD": "p",
        "JDBC_PASSWORD": "p",
        "client_secret": "s",
        "USERNAME": "u",
        "JDBC_CONNECTION_URL": "jdbc:x",
        "ENCRYPTED_PASSWORD": "e",
        "SECRET_ID": "arn:secret",
        "api_token": "t",
        "SSL_MODE": "kept",
    }
    connection = model.Connection(
        name="c",
        catalog_id="c1",
        connection_type="JDBC",
        creation_time=NOW,
        last_updated_time=NOW,
        connection_properties=properties,
    )
    hidden = connection_to_proto(connection, hide_password=True)
    assert dict(hidden.connection_properties) == {
        "USERNAME": "u",
        "JDBC_CONNECTION_URL": "jdbc:x",
        "SSL_MODE": "kept",
    }
    shown = connection_to_proto(connection, hide_password=False)
    assert dict(shown.connection_properties) == properties
    assert is_secret_property("Secret")
    assert not is_secret_property("USERNAME")


def test_connections_filter() -> None:
    message = pb.GetConnectionsFilter(match_criteria=["a", "b"], connection_type="JDBC")
    assert connections_filter_from_proto(message) == model.GetConnectionsFilter(("a", "b"), "JDBC")
    assert connections_filter_from_proto(pb.GetConnectionsFilter()) == model.GetConnectionsFilter()


def test_batch_errors_and_value_lists() -> None:
    detail = model.ErrorDetail("EntityNotFoundException", "no such partition")
    partition_error = partition_error_to_proto(model.PartitionError(("2024", "1"), detail))
    assert list(partition_error.partition_values) == ["2024", "1"]
    assert partition_error.error_detail == pb.ErrorDetail(
        error_code="EntityNotFoundException", error_message="no such partition"
    )
    table_error = table_error_to_proto(model.TableError("t", detail))
    assert (table_error.table_name, table_error.error_detail.error_code) == (
        "t",
        "EntityNotFoundException",
    )
    failure = update_failure_to_proto(("a",), model.PartitionError(("b",), detail))
    assert list(failure.partition_value_list) == ["a"]
    lists = [("1", "2"), (), ("x",)]
    assert value_lists_from_proto(value_lists_to_proto(lists)) == lists
