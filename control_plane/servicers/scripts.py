"""The ScriptService servicer: reads the scripts UploadScript keeps, in the caller's account."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from sluice.control_plane.jobs.scripts import uploaded_location
from sluice.control_plane.jobs.store import JobStore
from sluice.control_plane.security.calls import current_call
from sluice.jobs.v1 import scripts_pb2 as api
from sluice.jobs.v1 import scripts_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext

SCRIPT_SERVICE = api.DESCRIPTOR.services_by_name["ScriptService"].full_name


class ScriptServicer(scripts_pb2_grpc.ScriptServiceServicer):
    """Serves sluice.jobs.v1.ScriptService from the job store.

    Args:
        store: Where UploadScript keeps scripts.
        account: The account every call acts as on a server without authentication.
    """

    def __init__(self, store: JobStore, *, account: str) -> None:
        self._store = store
        self._account_id = account

    def GetScript(self, request: api.GetScriptRequest, context: Ctx) -> api.GetScriptResponse:
        info = current_call()
        account = info.account if info is not None and info.account else self._account_id
        content = self._store.get_script(account, request.name)
        return api.GetScriptResponse(
            name=request.name, content=content, script_location=uploaded_location(request.name)
        )
