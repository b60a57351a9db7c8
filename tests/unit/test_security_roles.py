"""sluice:PassRole: who may name a role that runs will act as."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sluice.common.errors import AccessDenied, Unauthenticated
from sluice.control_plane.security.calls import CallInfo, Principal, call_scope
from sluice.control_plane.security.policy import Effect, Statement, evaluate
from sluice.control_plane.security.roles import (
    PASS_ROLE,
    AnyRolePasses,
    CallerPassesRole,
    is_builtin_role,
    role_resource,
)

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
JOBS_ONLY = Statement(Effect.ALLOW, ("glue:CreateJob", "glue:StartJobRun"), ("*",))
PASS_ETL = Statement(Effect.ALLOW, (PASS_ROLE,), ("role/etl",))


def call(
    principal: Principal, statements: Sequence[Statement] = (), account: str = ACCOUNT
) -> CallInfo:
    """The record of a call as the auth interceptor leaves it, deciding by statements."""
    return CallInfo(
        method="/sluice.jobs.v1.JobService/CreateJob",
        principal=principal,
        account=account,
        authorizer=lambda action, resource: (
            evaluate(
                statements, action, resource, roles=principal.roles, account=principal.account
            ).allowed
        ),
    )


def user(*roles: str, operator: bool = False) -> Principal:
    return Principal(id="p1", name="bob", account=ACCOUNT, roles=roles, operator=operator)


def passes(info: CallInfo, role: str) -> bool:
    with call_scope(info):
        try:
            CallerPassesRole().check(role)
        except AccessDenied:
            return False
    return True


def test_roles_are_iam_resources_of_the_account() -> None:
    assert role_resource(ACCOUNT, "etl") == f"sluice:iam:{ACCOUNT}:role/etl"
    assert is_builtin_role("admin") and is_builtin_role("ADMIN")
    assert not is_builtin_role("etl")


def test_creating_and_starting_jobs_does_not_let_a_principal_pass_roles() -> None:
    info = call(user("dev"), [JOBS_ONLY])

    with call_scope(info), pytest.raises(AccessDenied) as denied:
        CallerPassesRole().check("etl")

    assert denied.value.message == (
        f"bob is not authorized to perform sluice:PassRole on sluice:iam:{ACCOUNT}:role/etl"
    )
    # Recorded as a denial, as the auth interceptor's own refusals are.
    assert info.denied_reason == "not allowed by policy (sluice:PassRole)"


def test_pass_role_on_a_role_allows_passing_that_role_only() -> None:
    info = call(user("dev"), [JOBS_ONLY, PASS_ETL])

    assert passes(info, "etl")
    assert not passes(info, "etl2")
    assert not passes(info, "reporting")


def test_an_explicit_deny_wins() -> None:
    deny = Statement(Effect.DENY, ("sluice:*",), ("role/etl",))
    everything = Statement(Effect.ALLOW, ("*",), ("*",))

    assert not passes(call(user("dev"), [everything, deny]), "etl")
    assert passes(call(user("dev"), [everything, deny]), "other")


@pytest.mark.parametrize("role", ["admin", "Admin", "ADMIN"])
def test_no_policy_lets_anyone_but_the_operator_pass_admin(role: str) -> None:
    everything = Statement(Effect.ALLOW, ("*",), ("*",))
    info = call(user("dev"), [everything])

    with call_scope(info), pytest.raises(AccessDenied) as denied:
        CallerPassesRole().check(role)

    assert "only the operator may pass the built-in role admin" in denied.value.message
    assert info.denied_reason == "only the operator may pass the built-in role admin"
    # Not even a holder of admin, which is allowed everything else in its account.
    assert not passes(call(user("admin")), role)


def test_an_account_admin_passes_any_other_role() -> None:
    assert passes(call(user("admin")), "etl")


def test_the_operator_passes_every_role_in_every_account() -> None:
    operator = user("admin", operator=True)

    assert passes(call(operator), "admin")
    assert passes(call(operator, account="999999999999"), "etl")


def test_a_grant_in_another_account_does_not_count() -> None:
    elsewhere = Statement(Effect.ALLOW, (PASS_ROLE,), ("sluice:iam:999999999999:role/etl",))

    assert not passes(call(user("dev"), [elsewhere]), "etl")


def test_without_an_authenticated_call_nothing_is_passed() -> None:
    with pytest.raises(Unauthenticated):
        CallerPassesRole().check("etl")
    with call_scope(CallInfo(method="/x")), pytest.raises(Unauthenticated):
        CallerPassesRole().check("etl")


def test_a_server_without_authentication_passes_every_role() -> None:
    AnyRolePasses().check("admin")
