"""Policy evaluation: patterns, deny over allow, the admin role, account isolation, validation."""

from __future__ import annotations

import fnmatch
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice.common.errors import InvalidInput
from sluice.control_plane.security.policy import (
    MAX_PATTERN,
    MAX_POLICY_SIZE,
    Decision,
    Effect,
    Statement,
    checked_statements,
    evaluate,
    glob_matches,
    is_allowed,
    resource_name,
    split_resource,
)

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
OTHER = "210987654321"
ORDERS = resource_name("catalog", ACCOUNT, "table/sales/orders")


def allow(actions: str, *resources: str) -> Statement:
    return Statement(Effect.ALLOW, tuple(actions.split(",")), resources)


def deny(actions: str, *resources: str) -> Statement:
    return Statement(Effect.DENY, tuple(actions.split(",")), resources)


def decide(statements: list[Statement], action: str, resource: str = ORDERS, **kw: object) -> bool:
    kw.setdefault("roles", ("reader",))
    kw.setdefault("account", ACCOUNT)
    return is_allowed(statements, action, resource, **kw)  # type: ignore[arg-type]


def test_resource_names_are_arn_like_and_split_back() -> None:
    assert ORDERS == "sluice:catalog:123456789012:table/sales/orders"
    assert split_resource(ORDERS) == ("catalog", ACCOUNT, "table/sales/orders")
    assert split_resource("sluice:jobs:1:jobrun/d/jr_1:x") == ("jobs", "1", "jobrun/d/jr_1:x")
    assert split_resource("table/sales/orders") is None
    assert split_resource("sluice:catalog") is None


def test_a_relative_pattern_matches_the_part_after_the_account() -> None:
    assert decide([allow("glue:GetTable", "table/sales/orders")], "glue:GetTable")
    assert decide([allow("glue:GetTable", "table/sales/*")], "glue:GetTable")
    assert not decide([allow("glue:GetTable", "table/hr/*")], "glue:GetTable")
    # The relative part is matched whole: a prefix is not enough.
    assert not decide([allow("glue:GetTable", "table/sales")], "glue:GetTable")


def test_star_matches_any_characters_slashes_included() -> None:
    assert decide([allow("glue:GetTable", "*")], "glue:GetTable")
    assert decide([allow("glue:GetTable", "table/*")], "glue:GetTable")
    assert decide([allow("glue:GetTable", "table/*/orders")], "glue:GetTable")
    assert decide([allow("glue:GetTable", "*orders")], "glue:GetTable")
    assert not decide([allow("glue:GetTable", "database/*")], "glue:GetTable")


def test_a_full_pattern_matches_the_whole_name() -> None:
    full = f"sluice:catalog:{ACCOUNT}:table/sales/*"
    assert decide([allow("glue:GetTable", full)], "glue:GetTable")
    assert decide([allow("glue:GetTable", "sluice:*:*:table/*")], "glue:GetTable")
    assert not decide([allow("glue:GetTable", f"sluice:jobs:{ACCOUNT}:*")], "glue:GetTable")
    assert not decide([allow("glue:GetTable", f"sluice:catalog:{OTHER}:*")], "glue:GetTable")


def test_regex_characters_in_patterns_are_literal() -> None:
    resource = resource_name("jobs", ACCOUNT, "script/etl.py")
    assert decide([allow("sluice:UploadScript", "script/etl.py")], "sluice:UploadScript", resource)
    other = resource_name("jobs", ACCOUNT, "script/etlxpy")
    assert not decide([allow("sluice:UploadScript", "script/etl.py")], "sluice:UploadScript", other)
    assert not decide([allow("glue:GetTable", "table/sales/(.*)")], "glue:GetTable")


def test_actions_compare_case_insensitively_and_take_wildcards() -> None:
    assert decide([allow("GLUE:gettable", "*")], "glue:GetTable")
    assert decide([allow("glue:Get*", "*")], "glue:GetTable")
    assert decide([allow("glue:Get*", "*")], "glue:gettables")
    assert not decide([allow("glue:Get*", "*")], "glue:CreateTable")
    assert decide([allow("glue:*", "*")], "glue:DeleteTable")
    assert not decide([allow("iam:*", "*")], "glue:GetTable")
    assert decide([allow("*", "*")], "iam:CreateToken")
    assert decide([allow("glue:CreateTable,glue:GetTable", "*")], "glue:GetTable")


def test_explicit_deny_wins_whatever_the_order() -> None:
    statements = [allow("glue:*", "*"), deny("glue:DeleteTable", "table/sales/*")]
    assert not decide(statements, "glue:DeleteTable")
    assert not decide(list(reversed(statements)), "glue:DeleteTable")
    assert decide(statements, "glue:GetTable")
    assert evaluate(statements, "glue:DeleteTable", ORDERS, roles=(), account=ACCOUNT) is (
        Decision.EXPLICIT_DENY
    )


def test_a_deny_on_a_container_holds_for_what_it_contains() -> None:
    everything = allow("*", "*")
    secret_table = resource_name("catalog", ACCOUNT, "table/secret/t")
    assert not decide(
        [everything, deny("glue:*", "database/secret")], "glue:GetTable", secret_table
    )
    full = f"sluice:catalog:{ACCOUNT}:database/secret"
    assert not decide([everything, deny("glue:GetTable", full)], "glue:GetTable", secret_table)
    # The container's Deny names the action asked for, or it does not apply.
    assert decide(
        [everything, deny("glue:DeleteDatabase", "database/secret")], "glue:GetTable", secret_table
    )
    # Listings and batches are checked on `table/secret/*`: denied by the database too.
    listing = resource_name("catalog", ACCOUNT, "table/secret/*")
    assert not decide([everything, deny("glue:*", "database/secret")], "glue:GetTables", listing)
    assert decide([everything, deny("glue:*", "database/secret")], "glue:GetTable", ORDERS)
    run = resource_name("jobs", ACCOUNT, "jobrun/hidden/jr_1")
    assert not decide([everything, deny("glue:*", "job/hidden")], "glue:GetJobRun", run)
    assert decide([everything, deny("glue:*", "job/hidde")], "glue:GetJobRun", run)
    function = resource_name("catalog", ACCOUNT, "function/secret/f")
    assert not decide(
        [everything, deny("*", "database/sec*")], "glue:GetUserDefinedFunction", function
    )
    # An Allow on the container alone does not allow what it contains.
    assert not decide([allow("glue:GetTable", "database/secret")], "glue:GetTable", secret_table)


def test_nothing_allowed_is_denied() -> None:
    assert evaluate([], "glue:GetTable", ORDERS, roles=("r",), account=ACCOUNT) is (
        Decision.IMPLICIT_DENY
    )
    assert not decide([deny("glue:DeleteTable", "*")], "glue:GetTable")


def test_the_admin_role_may_do_everything_in_its_account_only() -> None:
    assert evaluate([], "iam:CreateToken", ORDERS, roles=("admin",), account=ACCOUNT) is (
        Decision.ADMIN
    )
    other = resource_name("catalog", OTHER, "table/sales/orders")
    assert evaluate([], "glue:GetTable", other, roles=("admin",), account=ACCOUNT) is (
        Decision.OTHER_ACCOUNT
    )


def test_no_pattern_reaches_another_account() -> None:
    other = resource_name("catalog", OTHER, "table/sales/orders")
    everything = [allow("*", "*"), allow("*", "sluice:*")]
    assert not decide(everything, "glue:GetTable", other)
    assert not decide(everything, "glue:GetTable", "not-a-resource-name")
    # Without an account to hold them to, statements are evaluated as written.
    assert is_allowed(everything, "glue:GetTable", other, roles=("reader",))


def test_valid_statements_are_kept_and_effects_normalised() -> None:
    checked = checked_statements(
        [
            Statement("Allow", ("glue:Get*",), ("table/sales/*",)),  # type: ignore[arg-type]
            Statement(Effect.DENY, ("*",), (f"sluice:catalog:{ACCOUNT}:database/hr",)),
        ]
    )
    assert checked[0].effect is Effect.ALLOW
    assert checked[1].resources == (f"sluice:catalog:{ACCOUNT}:database/hr",)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (Statement("Maybe", ("*",), ("*",)), "effect must be Allow or Deny"),  # type: ignore[arg-type]
        (Statement(Effect.ALLOW, (), ("*",)), "actions must not be empty"),
        (Statement(Effect.ALLOW, ("*",), ()), "resources must not be empty"),
        (Statement(Effect.ALLOW, ("GetTable",), ("*",)), "not an action pattern"),
        (Statement(Effect.ALLOW, ("glue:Get Table",), ("*",)), "not an action pattern"),
        (Statement(Effect.ALLOW, ("*",), ("",)), "not a resource pattern"),
        (Statement(Effect.ALLOW, ("*",), ("table/a b",)), "not a resource pattern"),
        (Statement(Effect.ALLOW, ("*",), ("sluice:catalog",)), "not a full resource name"),
        (Statement(Effect.ALLOW, ("*",), ("sluice:warehouse:1:x",)), "unknown service"),
    ],
)
def test_malformed_statements_are_refused(statement: Statement, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        checked_statements([allow("*", "*"), statement])
    assert "statements[1]" in caught.value.message
    assert message in caught.value.message


def test_a_policy_has_one_to_a_hundred_statements() -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        checked_statements([])
    with pytest.raises(InvalidInput, match="at most 100"):
        checked_statements([allow("*", "*")] * 101)


_SEGMENT = st.text(alphabet="abcxyz_-.0123456789", min_size=1, max_size=8)


@given(st.lists(_SEGMENT, min_size=1, max_size=4), st.data())
def test_a_name_matches_itself_and_any_segment_may_become_a_star(
    segments: list[str], data: st.DataObject
) -> None:
    relative = "/".join(segments)
    resource = resource_name("catalog", ACCOUNT, relative)
    assert decide([allow("glue:GetTable", relative)], "glue:GetTable", resource)
    assert decide([allow("glue:GetTable", resource)], "glue:GetTable", resource)
    index = data.draw(st.integers(min_value=0, max_value=len(segments) - 1))
    starred = "/".join("*" if i == index else s for i, s in enumerate(segments))
    assert decide([allow("glue:GetTable", starred)], "glue:GetTable", resource)
    # A deny of the same pattern always wins over the allow.
    both = [allow("glue:GetTable", starred), deny("glue:GetTable", relative)]
    assert not decide(both, "glue:GetTable", resource)


# Matching in linear time

_GLOB_TEXT = st.text(alphabet="ab/", max_size=12)
_GLOB_PATTERN = st.text(alphabet="ab/*", max_size=10)


@given(_GLOB_PATTERN, _GLOB_TEXT)
def test_glob_matching_agrees_with_fnmatch(pattern: str, text: str) -> None:
    # Without `?` or `[`, fnmatch's glob is exactly ours: `*` is any run, anything else itself.
    assert glob_matches(pattern, text) is fnmatch.fnmatchcase(text, pattern)


@given(st.lists(st.text(alphabet="ab/", max_size=4), min_size=1, max_size=5), st.data())
def test_a_text_matches_any_pattern_made_by_starring_parts_of_it(
    pieces: list[str], data: st.DataObject
) -> None:
    starred = [data.draw(st.booleans()) for _ in pieces]
    pattern = "".join("*" if star else piece for piece, star in zip(pieces, starred, strict=True))
    assert glob_matches(pattern, "".join(pieces))


def test_a_pathological_pattern_is_matched_at_once() -> None:
    # Ten stars against a 60-character name took a backtracking regex about three minutes.
    pattern = "database/" + "a*" * 10 + "b"
    name = "database/" + "a" * 60
    resource = resource_name("catalog", ACCOUNT, name)
    started = time.perf_counter()
    assert not glob_matches(pattern, name)
    assert not decide([allow("glue:GetDatabase", pattern)], "glue:GetDatabase", resource)
    longest = "a*" * (MAX_PATTERN // 2)
    assert not glob_matches(longest + "b", "a" * 2000)
    assert glob_matches(longest, "a" * 2000)
    assert time.perf_counter() - started < 0.5


def test_a_policy_is_bounded_in_size() -> None:
    many = [allow("*", "table/" + "x" * 1000) for _ in range(11)]
    with pytest.raises(InvalidInput, match=f"at most {MAX_POLICY_SIZE} characters"):
        checked_statements(many)
    assert len(checked_statements(many[:10])) == 10
    with pytest.raises(InvalidInput, match="not an action pattern"):
        checked_statements([allow("glue:" + "a" * MAX_PATTERN, "*")])
