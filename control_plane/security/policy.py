"""Policy evaluation, Glue/IAM style: pure functions over statements, no I/O.

A statement allows or denies actions (`glue:GetTable`, `glue:Get*`, `*`) on resources. Resource
names are ARN-like, `sluice:<service>:<account>:<relative>` (e.g.
`sluice:catalog:123456789012:table/sales/orders`). A resource pattern starting `sluice:` matches
the whole name; any other pattern (`table/sales/*`, `*`) matches the relative part after the
account. In both, `*` matches any run of characters, `/` included. Actions compare
case-insensitively, resources exactly. Matching never backtracks (one forward search of the name
per literal part of the pattern) and a policy's size is bounded, so no pattern can make an
evaluation slow.

The decision: an explicit Deny wins; otherwise any Allow allows; otherwise it is denied. A Deny
on a container holds for what it contains, as Glue checks a table call against the database's
ARN too: denying `glue:GetTable` on `database/secret` denies it on `table/secret/*`, and a Deny
on `job/x` holds for `jobrun/x/*` (see CONTAINERS). An Allow is decided on the resource itself,
where Glue would also need the Allow on the database: Sluice differs there on purpose, so that
`table/sales/*` alone grants the tables of sales. The
built-in role `admin` is allowed everything in its own account without any policy. A resource in
another account than the one the statements belong to is never allowed: account isolation does
not depend on how a pattern is written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sluice.common.errors import InvalidInput

ADMIN_ROLE = "admin"
RESOURCE_PREFIX = "sluice:"
SERVICES = ("catalog", "jobs", "iam", "audit")
MAX_STATEMENTS = 100
MAX_ENTRIES = 100
MAX_PATTERN = 1024
# Characters of all the action and resource patterns of a policy together: IAM's limit on an
# inline role policy, so an evaluation reads a bounded amount of patterns.
MAX_POLICY_SIZE = 10_240
# The kinds of resource that sit in a container (`table/<database>/<name>` in
# `database/<database>`), by kind: the container's kind. A Deny on the container holds for them.
CONTAINERS = {"table": "database", "function": "database", "jobrun": "job"}
# service:Action, where either part may use `*`; or `*` alone.
_ACTION = re.compile(r"\*|[A-Za-z0-9*\-]+:[A-Za-z0-9*]+")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class Effect(StrEnum):
    """What a statement does to the actions it names."""

    ALLOW = "Allow"
    DENY = "Deny"


class Decision(StrEnum):
    """The outcome of an evaluation, and why."""

    ADMIN = "admin"
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "no statement allows it"
    OTHER_ACCOUNT = "another account"

    @property
    def allowed(self) -> bool:
        return self in (Decision.ADMIN, Decision.ALLOWED)


@dataclass(frozen=True)
class Statement:
    """One rule of a policy.

    Attributes:
        effect: Allow or Deny.
        actions: Action patterns, e.g. ("glue:GetTable", "glue:Get*") or ("*",).
        resources: Resource patterns: relative ("table/sales/*", "*") or full
            ("sluice:catalog:123456789012:database/sales").
    """

    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]


def resource_name(service: str, account: str, relative: str) -> str:
    """The ARN-like name of a resource: `sluice:<service>:<account>:<relative>`."""
    return f"{RESOURCE_PREFIX}{service}:{account}:{relative}"


def split_resource(resource: str) -> tuple[str, str, str] | None:
    """(service, account, relative) of a resource name; None if it is not one.

    Accounts never contain ':' at the positions that matter here: the service and account are
    the second and third ':'-separated parts, and the rest is the relative name.
    """
    if not resource.startswith(RESOURCE_PREFIX):
        return None
    parts = resource[len(RESOURCE_PREFIX) :].split(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1], parts[2]


def evaluate(
    statements: Iterable[Statement],
    action: str,
    resource: str,
    *,
    roles: Collection[str],
    account: str | None = None,
) -> Decision:
    """Whether statements let a holder of roles do action on resource, and why.

    Args:
        statements: The statements of every policy attached to the roles (in the account).
        action: The action asked for, e.g. "glue:GetTable".
        resource: The full ARN-like resource name.
        roles: The roles of the caller; `admin` is allowed everything in its account.
        account: The account the statements and roles belong to. When given, a resource of any
            other account (or a name that is not a resource name) is denied.

    Returns:
        A Decision; `decision.allowed` says whether the call may go ahead.
    """
    parts = split_resource(resource)
    if account is not None and (parts is None or parts[1] != account):
        return Decision.OTHER_ACCOUNT
    if ADMIN_ROLE in roles:
        return Decision.ADMIN
    relative = parts[2] if parts is not None else resource
    container = _container(relative)
    container_full = resource[: len(resource) - len(relative)] + container if container else ""
    allowed = False
    for statement in statements:
        if not _action_matches(statement.actions, action):
            continue
        if _resource_matches(statement.resources, resource, relative):
            if statement.effect is Effect.DENY:
                return Decision.EXPLICIT_DENY
            allowed = True
        elif (
            container
            and statement.effect is Effect.DENY
            and _resource_matches(statement.resources, container_full, container)
        ):
            return Decision.EXPLICIT_DENY
    return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY


def _container(relative: str) -> str:
    """The relative name of what contains a resource (`database/sales` for
    `table/sales/orders`), or "" when it sits in no container."""
    kind, _, rest = relative.partition("/")
    outer = CONTAINERS.get(kind)
    name, separator, _ = rest.partition("/")
    if outer is None or not separator or not name:
        return ""
    return f"{outer}/{name}"


def is_allowed(
    statements: Iterable[Statement],
    action: str,
    resource: str,
    *,
    roles: Collection[str],
    account: str | None = None,
) -> bool:
    """Whether statements let a holder of roles do action on resource (see `evaluate`)."""
    return evaluate(statements, action, resource, roles=roles, account=account).allowed


def checked_statements(statements: Sequence[Statement]) -> tuple[Statement, ...]:
    """Statements as a policy keeps them; InvalidInput naming the first bad one.

    Raises:
        InvalidInput: No statements, too many, an empty list of actions or resources, a
            malformed action or resource pattern, or patterns longer than MAX_POLICY_SIZE in all.
    """
    if not statements:
        raise InvalidInput("a policy needs at least one statement")
    if len(statements) > MAX_STATEMENTS:
        raise InvalidInput(f"a policy has at most {MAX_STATEMENTS} statements")
    checked = tuple(_checked(i, s) for i, s in enumerate(statements))
    size = sum(len(p) for s in checked for p in (*s.actions, *s.resources))
    if size > MAX_POLICY_SIZE:
        raise InvalidInput(
            f"a policy's action and resource patterns have at most {MAX_POLICY_SIZE} "
            f"characters in all; these have {size}"
        )
    return checked


def _checked(index: int, statement: Statement) -> Statement:
    where = f"statements[{index}]"
    try:
        effect = Effect(statement.effect)
    except ValueError:
        raise InvalidInput(f"{where}.effect must be Allow or Deny") from None
    for field, values in (("actions", statement.actions), ("resources", statement.resources)):
        if not values:
            raise InvalidInput(f"{where}.{field} must not be empty")
        if len(values) > MAX_ENTRIES:
            raise InvalidInput(f"{where}.{field} has more than {MAX_ENTRIES} entries")
    for action in statement.actions:
        if len(action) > MAX_PATTERN or not _ACTION.fullmatch(action):
            raise InvalidInput(
                f"{where}.actions: {action!r} is not an action pattern such as "
                "'glue:GetTable', 'glue:Get*' or '*'"
            )
    for pattern in statement.resources:
        _check_resource_pattern(f"{where}.resources", pattern)
    return Statement(
        effect=effect, actions=tuple(statement.actions), resources=tuple(statement.resources)
    )


def _check_resource_pattern(where: str, pattern: str) -> None:
    if not pattern or len(pattern) > MAX_PATTERN or _CONTROL.search(pattern):
        raise InvalidInput(
            f"{where}: {pattern!r} is not a resource pattern (1 to {MAX_PATTERN} characters, "
            "no spaces or control characters)"
        )
    if pattern.startswith(RESOURCE_PREFIX):
        parts = split_resource(pattern)
        if parts is None or not parts[2]:
            raise InvalidInput(
                f"{where}: {pattern!r} is not a full resource name "
                "(sluice:<service>:<account>:<relative>)"
            )
        service = parts[0]
        if "*" not in service and service not in SERVICES:
            raise InvalidInput(f"{where}: {pattern!r} names an unknown service {service!r}")


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    lowered = action.lower()
    return any(glob_matches(pattern.lower(), lowered) for pattern in patterns)


def _resource_matches(patterns: Iterable[str], full: str, relative: str) -> bool:
    return any(
        glob_matches(pattern, full if pattern.startswith(RESOURCE_PREFIX) else relative)
        for pattern in patterns
    )


def glob_matches(pattern: str, text: str) -> bool:
    """Whether text matches pattern whole, where `*` in pattern matches any run of characters
    and every other character only itself.

    Greedy and without backtracking: the literal parts between stars are found left to right,
    each at its first place after the previous one (the first one found is never worse for the
    rest), so each part costs one forward search of text, whatever the number of stars.
    """
    if "*" not in pattern:
        return text == pattern
    first, *middle, last = _parts(pattern)
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    position = len(first)
    for part in middle:
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


@functools.lru_cache(maxsize=4096)
def _parts(pattern: str) -> tuple[str, ...]:
    # The literal parts between stars; empty ones (from "**") constrain nothing.
    first, *middle, last = pattern.split("*")
    return (first, *(part for part in middle if part), last)
