"""Conversions between the API's protobuf messages and the catalog's domain objects.

proto3 cannot tell an empty string from an unset one, so "" means unset throughout; message
fields are checked for presence with HasField.
"""
