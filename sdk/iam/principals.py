"""Principals: the users, programs and operators that call Sluice."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sluice.iam.v1 import iam_pb2, types_pb2
from sluice.sdk.iam._base import IamBase
from sluice.sdk.messages import to_values


class PrincipalsMixin(IamBase):
    """Principal calls of IamClient."""

    def create_principal(
        self,
        name: str,
        *,
        roles: Sequence[str] = (),
        description: str = "",
        operator: bool = False,
        certificate_subject: str = "",
        account: str | None = None,
    ) -> types_pb2.Principal:
        """Creates a principal.

        Args:
            name: Unique in the account, case-insensitive (letters, digits, '_' and '-').
            roles: Its roles; policies attached to them grant it actions, and the role admin
                everything in its account.
            description: Free text.
            operator: An operator principal acts in every account; only an operator may make one.
            certificate_subject: A client certificate with this subject CN authenticates as it.
            account: The account; the client's default (else the caller's own) when None.

        Returns:
            The principal as created.

        Raises:
            AlreadyExists: The account has a principal of that name, or the certificate subject
                is taken.
            InvalidInput: The name, a role or another field is not valid.
            AccessDenied: operator was asked for by a caller that is not an operator.
        """
        request = iam_pb2.CreatePrincipalRequest(
            account=self._account(account),
            name=name,
            roles=to_values(roles, what="roles"),
            description=description,
            operator=operator,
            certificate_subject=certificate_subject,
        )
        response: iam_pb2.CreatePrincipalResponse = self._call(self._stub.CreatePrincipal, request)
        return response.principal

    def get_principal(self, name: str, *, account: str | None = None) -> types_pb2.Principal:
        """The principal called `name`.

        Raises:
            EntityNotFound: There is no such principal (in an account the caller may see).
        """
        request = iam_pb2.GetPrincipalRequest(account=self._account(account), name=name)
        response: iam_pb2.GetPrincipalResponse = self._call(self._stub.GetPrincipal, request)
        return response.principal

    def list_principals(
        self, *, page_size: int | None = None, account: str | None = None
    ) -> Iterator[types_pb2.Principal]:
        """Every principal of the account, by name, fetching pages as the iteration needs them.

        Args:
            page_size: Principals per call (at most 1000); the server's default when None.
            account: The account; the client's default (else the caller's own) when None.
        """
        request = iam_pb2.ListPrincipalsRequest(
            account=self._account(account), max_results=page_size or 0
        )
        return self._paginate(self._stub.ListPrincipals, request, "principals")

    def update_principal(
        self,
        name: str,
        *,
        roles: Sequence[str] | None = None,
        description: str | None = None,
        certificate_subject: str | None = None,
        account: str | None = None,
    ) -> types_pb2.Principal:
        """Changes a principal; arguments left None stay as they are.

        Args:
            name: The principal.
            roles: Replaces all its roles ([] removes them all).
            description: The new description.
            certificate_subject: The new subject CN ("" removes it).
            account: The account; the client's default (else the caller's own) when None.

        Returns:
            The principal as changed.

        Raises:
            EntityNotFound: There is no such principal.
            AccessDenied: It is an operator principal and the caller is not an operator.
        """
        update = types_pb2.PrincipalUpdate()
        if roles is not None:
            update.roles.roles.extend(to_values(roles, what="roles"))
            update.roles.SetInParent()
        if description is not None:
            update.description = description
        if certificate_subject is not None:
            update.certificate_subject = certificate_subject
        request = iam_pb2.UpdatePrincipalRequest(
            account=self._account(account), name=name, principal_update=update
        )
        response: iam_pb2.UpdatePrincipalResponse = self._call(self._stub.UpdatePrincipal, request)
        return response.principal

    def delete_principal(self, name: str, *, account: str | None = None) -> None:
        """Deletes a principal and all its tokens.

        Raises:
            EntityNotFound: There is no such principal.
            InvalidState: It is the last operator principal.
        """
        request = iam_pb2.DeletePrincipalRequest(account=self._account(account), name=name)
        self._call(self._stub.DeletePrincipal, request)
