"""Passing a role: naming a role that something will later act as (a job's runs, a trigger's or a
crawler's work).

As `iam:PassRole` in AWS, naming a role is itself an action, `sluice:PassRole`, on the resource
`sluice:iam:<account>:role/<name>`, decided by the same policies as any other action. Without it,
a principal allowed only `glue:CreateJob` and `glue:StartJobRun` could make a job whose runs act
as any role of the account. The built-in role `admin` (allowed everything in its account) is
passable by the operator alone: not even an account's admins may mint runs with it.

Servicers call `RolePassing.check(role)` while serving a call; a refusal is an AccessDenied that
the audit interceptor records as a denial, like the auth interceptor's own.
"""

from __future__ import annotations

from typing import Protocol

from sluice.common.errors import AccessDenied, Unauthenticated
from sluice.control_plane.security.calls import current_call
from sluice.control_plane.security.policy import ADMIN_ROLE, resource_name

PASS_ROLE = "sluice:PassRole"


def role_resource(account: str, role: str) -> str:
    """The ARN-like name of a role: `sluice:iam:<account>:role/<role>`."""
    return resource_name("iam", account, f"role/{role}")


def is_builtin_role(role: str) -> bool:
    """Whether role is the built-in `admin` (in any letter case, so that a looser comparison
    elsewhere can never turn a passable role into it)."""
    return role.casefold() == ADMIN_ROLE


class RolePassing(Protocol):
    """Decides whether the caller of the call in flight may name a role."""

    def check(self, role: str) -> None:
        """Returns when the caller may pass role; raises AccessDenied otherwise."""
        ...


class CallerPassesRole:
    """The caller of the call in flight (see `calls.current_call`) must be allowed
    `sluice:PassRole` on the role, in the account the call acts in; `admin` only the operator may
    pass."""

    def check(self, role: str) -> None:
        """Returns when the caller may pass role.

        Raises:
            Unauthenticated: There is no authenticated call in flight.
            AccessDenied: The role is `admin` and the caller is not the operator, or no policy
                of the caller allows `sluice:PassRole` on the role (or one denies it).
        """
        info = current_call()
        if info is None or info.principal is None or info.authorizer is None:
            raise Unauthenticated("the call is not authenticated")
        principal = info.principal
        resource = role_resource(info.account or principal.account, role)
        if principal.operator:
            return
        if is_builtin_role(role):
            info.denied_reason = f"only the operator may pass the built-in role {ADMIN_ROLE}"
            raise AccessDenied(
                f"{principal.name} is not authorized to perform {PASS_ROLE} on {resource}: "
                f"only the operator may pass the built-in role {ADMIN_ROLE}"
            )
        if info.authorizer(PASS_ROLE, resource):
            return
        info.denied_reason = f"not allowed by policy ({PASS_ROLE})"
        raise AccessDenied(
            f"{principal.name} is not authorized to perform {PASS_ROLE} on {resource}"
        )


class AnyRolePasses:
    """For a server without authentication (--insecure-no-auth, development only): every caller
    may pass every role, as it may do everything else."""

    def check(self, role: str) -> None:
        """Always returns."""
