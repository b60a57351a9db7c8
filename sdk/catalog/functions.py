"""User-defined functions registered in catalog databases."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.sdk.catalog._base import CatalogBase, SegmentLike, segment_message
from sluice.sdk.messages import to_message

FunctionInputLike = types_pb2.UserDefinedFunctionInput | Mapping[str, Any]


class FunctionsMixin(CatalogBase):
    """User-defined function calls of CatalogClient."""

    def create_user_defined_function(
        self, database: str, function_input: FunctionInputLike, *, catalog_id: str | None = None
    ) -> None:
        """Registers a function in `database`.

        Args:
            database: The database's name.
            function_input: The function, e.g. {"function_name": "to_cents", "class_name":
                "com.example.ToCents", "resource_uris": [{"resource_type": "RESOURCE_TYPE_JAR",
                "uri": "s3://bucket/udfs.jar"}]}.
            catalog_id: The account; the client's default when None.

        Raises:
            EntityNotFound: There is no such database.
            AlreadyExists: The database has a function of that name.
        """
        request = catalog_pb2.CreateUserDefinedFunctionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            function_input=to_message(function_input, types_pb2.UserDefinedFunctionInput),
        )
        self._call(self._stub.CreateUserDefinedFunction, request)

    def get_user_defined_function(
        self, database: str, name: str, *, catalog_id: str | None = None
    ) -> types_pb2.UserDefinedFunction:
        """The function called `name` in `database`.

        Raises:
            EntityNotFound: There is no such database or function.
        """
        request = catalog_pb2.GetUserDefinedFunctionRequest(
            catalog_id=self._catalog_id(catalog_id), database_name=database, function_name=name
        )
        response: catalog_pb2.GetUserDefinedFunctionResponse = self._call(
            self._stub.GetUserDefinedFunction, request
        )
        return response.user_defined_function

    def get_user_defined_functions(
        self,
        database: str = "",
        pattern: str = "",
        *,
        page_size: int | None = None,
        segment: SegmentLike | None = None,
        catalog_id: str | None = None,
    ) -> Iterator[types_pb2.UserDefinedFunction]:
        """Functions of one database, or of all, fetching pages as the iteration needs them.

        Args:
            database: The database's name; every database of the account when empty.
            pattern: Only functions whose name matches ('*' any characters, '|' between
                alternatives); every function when empty.
            page_size: Functions per call (at most 100); the server's default when None.
            segment: Only this slice of the list, for parallel scans.
            catalog_id: The account; the client's default when None.
        """
        request = catalog_pb2.GetUserDefinedFunctionsRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            pattern=pattern,
            max_results=page_size or 0,
            segment=segment_message(segment),
        )
        return self._paginate(self._stub.GetUserDefinedFunctions, request, "user_defined_functions")

    def update_user_defined_function(
        self,
        database: str,
        name: str,
        function_input: FunctionInputLike,
        *,
        catalog_id: str | None = None,
    ) -> None:
        """Replaces the definition of function `name` with `function_input`.

        Raises:
            EntityNotFound: There is no such database or function.
        """
        request = catalog_pb2.UpdateUserDefinedFunctionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            function_name=name,
            function_input=to_message(function_input, types_pb2.UserDefinedFunctionInput),
        )
        self._call(self._stub.UpdateUserDefinedFunction, request)

    def delete_user_defined_function(
        self, database: str, name: str, *, catalog_id: str | None = None
    ) -> None:
        """Deletes a function.

        Raises:
            EntityNotFound: There is no such database or function.
        """
        request = catalog_pb2.DeleteUserDefinedFunctionRequest(
            catalog_id=self._catalog_id(catalog_id), database_name=database, function_name=name
        )
        self._call(self._stub.DeleteUserDefinedFunction, request)
