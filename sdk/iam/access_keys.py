"""Access key pairs of principals: what Glue clients (boto3, the AWS CLI, Terraform) sign their
requests to the Glue door with (AWS Signature Version 4)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sluice.iam.v1 import iam_pb2, types_pb2
from sluice.sdk.iam._base import IamBase


@dataclass(frozen=True)
class NewAccessKey:
    """An access key pair just made.

    Attributes:
        access_key_id: Public (AWS_ACCESS_KEY_ID).
        secret_access_key: AWS_SECRET_ACCESS_KEY: shown only this once.
        info: Its id, principal, description and creation time.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    info: types_pb2.AccessKeyInfo


class AccessKeysMixin(IamBase):
    """Access key calls of IamClient."""

    def create_access_key(
        self,
        principal_name: str,
        *,
        description: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
        account: str | None = None,
    ) -> NewAccessKey:
        """Makes an access key pair for a principal, or (operator only) registers an existing
        one so that clients already configured with it keep working.

        Raises:
            EntityNotFound: There is no such principal.
            AlreadyExists: The access key id is taken.
            AccessDenied: Registering a pair, or a key of an operator principal, by a caller
                that is not an operator.
        """
        request = iam_pb2.CreateAccessKeyRequest(
            account=self._account(account),
            principal_name=principal_name,
            description=description,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        response: iam_pb2.CreateAccessKeyResponse = self._call(self._stub.CreateAccessKey, request)
        return NewAccessKey(
            access_key_id=response.access_key_info.access_key_id,
            secret_access_key=response.secret_access_key,
            info=response.access_key_info,
        )

    def list_access_keys(
        self, principal_name: str, *, page_size: int | None = None, account: str | None = None
    ) -> Iterator[types_pb2.AccessKeyInfo]:
        """The access keys of a principal (never their secrets), oldest first.

        Raises:
            EntityNotFound: There is no such principal.
        """
        request = iam_pb2.ListAccessKeysRequest(
            account=self._account(account),
            principal_name=principal_name,
            max_results=page_size or 0,
        )
        return self._paginate(self._stub.ListAccessKeys, request, "access_keys")

    def delete_access_key(self, access_key_id: str, *, account: str | None = None) -> None:
        """Deletes an access key: requests signed with it are refused from the next one on.

        Raises:
            EntityNotFound: The account has no such key.
        """
        request = iam_pb2.DeleteAccessKeyRequest(
            account=self._account(account), access_key_id=access_key_id
        )
        self._call(self._stub.DeleteAccessKey, request)
