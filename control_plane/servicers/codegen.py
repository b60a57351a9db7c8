"""The CodeGenService servicer: GetMapping, GetPlan, CreateScript, GetDataflowGraph.

GetMapping and GetPlan read their tables from the catalog in the caller's account, each read
authorised as the caller's glue:GetTable on that table (a caller who may not read a table may
not have its columns through a plan either). Scripts are generated and parsed, never run.
"""

from __future__ import annotations

from typing import TypeAlias

import grpc

from sluice.catalog.core.model import Table
from sluice.catalog.core.store.base import CatalogStore
from sluice.catalog.v1 import catalog_pb2
from sluice.common.errors import AccessDenied, EntityNotFound, Unauthenticated
from sluice.control_plane.codegen import graph as script_graph
from sluice.control_plane.codegen import plan, script
from sluice.control_plane.convert import codegen as convert
from sluice.control_plane.security.actions import operation
from sluice.control_plane.security.calls import current_call
from sluice.jobs.v1 import codegen_pb2 as api
from sluice.jobs.v1 import codegen_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext

CODEGEN_SERVICE = api.DESCRIPTOR.services_by_name["CodeGenService"].full_name
_GET_TABLE = operation("/sluice.catalog.v1.CatalogService/GetTable")


class CodeGenServicer(codegen_pb2_grpc.CodeGenServiceServicer):
    """Serves sluice.jobs.v1.CodeGenService.

    Args:
        catalog: The Data Catalog the tables of GetMapping and GetPlan are read from.
        account: The account every call acts as on a server without authentication.
        authorise_reads: Whether each table read needs the caller's glue:GetTable (False only
            on a server without authentication, where there is no caller).
    """

    def __init__(self, catalog: CatalogStore, *, account: str, authorise_reads: bool) -> None:
        if not account:
            raise ValueError("account must not be empty")
        self._catalog = catalog
        self._account_id = account
        self._authorise_reads = authorise_reads

    def _account(self) -> str:
        info = current_call()
        if info is not None and info.account:
            return info.account
        return self._account_id

    def _lookup(self) -> plan.TableLookup:
        account = self._account()

        def table(database: str, name: str) -> Table | None:
            self._check_read(account, database, name)
            try:
                return self._catalog.get_table(account, database, name)
            except EntityNotFound:
                return None

        return table

    def _check_read(self, account: str, database: str, name: str) -> None:
        if not self._authorise_reads:
            return
        info = current_call()
        if info is None or info.principal is None or info.authorizer is None:
            raise Unauthenticated("the call is not authenticated")
        request = catalog_pb2.GetTableRequest(database_name=database, name=name)
        resource = _GET_TABLE.resource(account, request)
        if not info.authorizer(_GET_TABLE.action, resource):
            raise AccessDenied(
                f"{info.principal.name} is not authorized to perform {_GET_TABLE.action} "
                f"on {resource}"
            )

    def GetMapping(self, request: api.GetMappingRequest, context: Ctx) -> api.GetMappingResponse:
        source = convert.table_ref(request.source, "source")
        sinks = [convert.table_ref(s, "sink") for s in request.sinks]
        mapping = plan.get_mapping(self._lookup(), source, sinks)
        return api.GetMappingResponse(mapping=convert.mapping_to_proto(mapping))

    def GetPlan(self, request: api.GetPlanRequest, context: Ctx) -> api.GetPlanResponse:
        convert.checked_language(request.language)
        graph = plan.plan(
            self._lookup(),
            convert.mapping_from_proto(request.mapping),
            convert.table_ref(request.source, "source"),
            [convert.table_ref(s, "sink") for s in request.sinks],
            convert.location_from_proto(request.location),
        )
        return api.GetPlanResponse(python_script=script.render(graph, "GetPlan"))

    def CreateScript(
        self, request: api.CreateScriptRequest, context: Ctx
    ) -> api.CreateScriptResponse:
        convert.checked_language(request.language)
        graph = convert.graph_from_proto(request.dag_nodes, request.dag_edges)
        return api.CreateScriptResponse(python_script=script.render(graph))

    def GetDataflowGraph(
        self, request: api.GetDataflowGraphRequest, context: Ctx
    ) -> api.GetDataflowGraphResponse:
        nodes, edges = convert.graph_to_proto(script_graph.parse(request.python_script))
        return api.GetDataflowGraphResponse(dag_nodes=nodes, dag_edges=edges)
