"""The TagService servicer: parse the ARN, check it names the caller's account and the server's
region, call the tag store."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from sluice.catalog.v1 import tags_pb2 as api
from sluice.catalog.v1 import tags_pb2_grpc
from sluice.common.errors import EntityNotFound
from sluice.control_plane.security.calls import current_call
from sluice.control_plane.tags.arns import GlueArn, parse_arn
from sluice.control_plane.tags.store import SqlTagStore

Ctx: TypeAlias = grpc.ServicerContext

TAG_SERVICE = api.DESCRIPTOR.services_by_name["TagService"].full_name


class TagServicer(tags_pb2_grpc.TagServiceServicer):
    """Serves sluice.catalog.v1.TagService from the tag store.

    Args:
        store: The tag store.
        account: The account every call acts as on a server without authentication.
        region: The region of this server's ARNs.
    """

    def __init__(self, store: SqlTagStore, *, account: str, region: str) -> None:
        self._store = store
        self._account_id = account
        self._region = region

    def _arn(self, value: str) -> tuple[str, GlueArn]:
        """The caller's account and the ARN; another account's or region's resource is one
        the caller cannot see (EntityNotFound, as a missing one)."""
        info = current_call()
        account = info.account if info is not None and info.account else self._account_id
        parsed = parse_arn(value)
        if parsed.account != account or parsed.region != self._region:
            raise EntityNotFound(f"{parsed.kind} {parsed.name} not found")
        return account, parsed

    def TagResource(self, request: api.TagResourceRequest, context: Ctx) -> api.TagResourceResponse:
        account, arn = self._arn(request.resource_arn)
        self._store.tag(account, arn.kind, arn.name, dict(request.tags_to_add))
        return api.TagResourceResponse()

    def UntagResource(
        self, request: api.UntagResourceRequest, context: Ctx
    ) -> api.UntagResourceResponse:
        account, arn = self._arn(request.resource_arn)
        self._store.untag(account, arn.kind, arn.name, request.tags_to_remove)
        return api.UntagResourceResponse()

    def GetTags(self, request: api.GetTagsRequest, context: Ctx) -> api.GetTagsResponse:
        account, arn = self._arn(request.resource_arn)
        return api.GetTagsResponse(tags=self._store.get(account, arn.kind, arn.name))
