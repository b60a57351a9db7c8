"""Validation of what callers give the identity store: each check returns the normalised value or
raises InvalidInput, before anything is written."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sluice.catalog.core import names
from sluice.common.errors import InvalidInput
from sluice.control_plane.security.model import RUN_PRINCIPAL_PREFIX

MAX_ROLES = 50
# As long as a job's role may be: a run's principal holds its job's role.
MAX_ROLE = 2048
MAX_DESCRIPTION = 2048
# X.509 bounds a common name at 64 characters; 255 leaves room and keeps it indexable.
MAX_CERTIFICATE_SUBJECT = 255
MAX_RUN_ID = 128
# Ten years: a longer-lived credential is a forgotten one.
MAX_EXPIRES_IN_S = 10 * 366 * 24 * 3600
_RUN_ID = re.compile(r"[a-z0-9_\-]+")


def account(value: str) -> str:
    """The account a store method was given: resolved by the caller, so never empty."""
    if not value:
        raise InvalidInput("account must not be empty")
    return names.catalog_id(value, default=value)


def new_principal_name(value: str) -> str:
    """The name of a principal to create: like a catalog name (run principals are made only by
    the server, so '/' is refused here)."""
    return names.resource_name("principal", value)


def principal_name(value: str) -> str:
    """The name of an existing principal: a user's, or a job run's (`run/<run id>`)."""
    lowered = value.lower()
    if lowered.startswith(RUN_PRINCIPAL_PREFIX):
        run_id(lowered[len(RUN_PRINCIPAL_PREFIX) :])
        return lowered
    return names.resource_name("principal", value)


def run_id(value: str) -> str:
    """A job run's id, as run principals are named after it."""
    if not value or len(value) > MAX_RUN_ID or not _RUN_ID.fullmatch(value):
        raise InvalidInput(f"run id {value!r} is not valid")
    return value


def roles(values: Sequence[str]) -> tuple[str, ...]:
    """Role names, in order, without repeats."""
    if len(values) > MAX_ROLES:
        raise InvalidInput(f"a principal holds at most {MAX_ROLES} roles")
    kept: list[str] = []
    for value in values:
        if not value or value != value.strip():
            raise InvalidInput(f"role {value!r} is not valid: empty or with surrounding blanks")
        names.text_value("role", value, MAX_ROLE)
        if value not in kept:
            kept.append(value)
    return tuple(kept)


def description(value: str) -> str:
    return names.text_value("description", value, MAX_DESCRIPTION)


def certificate_subject(value: str) -> str:
    """A client certificate's subject CN; "" for none."""
    subject = names.text_value("certificate_subject", value, MAX_CERTIFICATE_SUBJECT)
    if subject != subject.strip():
        raise InvalidInput("certificate_subject has surrounding blanks")
    return subject


def policy_name(value: str) -> str:
    return names.resource_name("policy", value)


def expires_in_seconds(value: int) -> int:
    """How long a new token lives; 0 for a token that never expires."""
    if not 0 <= value <= MAX_EXPIRES_IN_S:
        raise InvalidInput(
            f"expires_in_seconds must be between 0 (never) and {MAX_EXPIRES_IN_S} (ten years)"
        )
    return value
