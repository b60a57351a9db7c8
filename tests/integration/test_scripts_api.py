"""ScriptService.GetScript on a real server: an uploaded script read back as it was written, a
missing one NOT_FOUND, and reading needs sluice:GetScript on the script (not glue:GetJob)."""

from __future__ import annotations

import uuid

import grpc
import pytest

from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.iam.v1 import types_pb2 as iam_types
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, scripts_pb2, scripts_pb2_grpc
from sluice.sdk import Client
from sluice.sdk.config import ClientOptions
from sluice.sdk.errors import EntityNotFound
from tests.integration.conftest import ServerProcess, authed_channel

pytestmark = pytest.mark.integration

SCRIPT = 'import sys\nprint("héllo", sys.argv)\n'.encode()


def test_an_uploaded_script_is_read_back_and_reading_is_a_right_of_its_own(
    server: ServerProcess,
) -> None:
    account = str(uuid.uuid4().int)[:12]
    with authed_channel(server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        iam.CreatePrincipal(
            iam_pb2.CreatePrincipalRequest(account=account, name="dev", roles=["dev"])
        )
        token = iam.CreateToken(
            iam_pb2.CreateTokenRequest(account=account, principal_name="dev")
        ).token

        def grant(*actions: str) -> None:
            statement = iam_types.Statement(
                effect=iam_types.EFFECT_ALLOW, actions=list(actions), resources=["script/etl*"]
            )
            iam.PutPolicy(
                iam_pb2.PutPolicyRequest(
                    account=account, name="dev", roles=["dev"], statements=[statement]
                )
            )

        grant("sluice:UploadScript", "glue:GetJob")
        with authed_channel(server.address, token) as dev:
            jobs = jobs_pb2_grpc.JobServiceStub(dev)
            scripts = scripts_pb2_grpc.ScriptServiceStub(dev)
            jobs.UploadScript(jobs_pb2.UploadScriptRequest(name="etl.py", content=SCRIPT))
            with pytest.raises(grpc.RpcError) as denied:
                scripts.GetScript(scripts_pb2.GetScriptRequest(name="etl.py"))
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "sluice:GetScript" in (denied.value.details() or "")

            grant("sluice:UploadScript", "sluice:GetScript")
            got = scripts.GetScript(scripts_pb2.GetScriptRequest(name="etl.py"))
            assert got.content == SCRIPT
            assert (got.name, got.script_location) == ("etl.py", "sluice://scripts/etl.py")
            # The SDK's client.scripts.get (`sluice scripts get NAME`) is that call.
            options = ClientOptions(address=server.address, token=token, config_file="/nonexistent")
            with Client(options) as client:
                assert client.scripts.get("etl.py") == SCRIPT
                with pytest.raises(EntityNotFound):
                    client.scripts.get("etl2.py")
            with pytest.raises(grpc.RpcError) as missing:
                scripts.GetScript(scripts_pb2.GetScriptRequest(name="etl2.py"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.RpcError) as bad:
                scripts.GetScript(scripts_pb2.GetScriptRequest(name="../etl.py"))
            assert bad.value.code() in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.PERMISSION_DENIED,
            )
