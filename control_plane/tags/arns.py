"""Glue's ARNs of the taggable resources: `arn:aws:glue:<region>:<account>:<type>/<name>`."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sluice.catalog.core import names
from sluice.common.errors import InvalidInput
from sluice.control_plane.crawlers.model import crawler_name
from sluice.control_plane.jobs.checks import job_name
from sluice.control_plane.jobs.triggers.model import trigger_name

DEFAULT_REGION = "us-east-1"
# The resource types Sluice tags, each with the store's own name check (catalog names are
# lower-cased; job, trigger and crawler names are case-sensitive, as in Glue).
KINDS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "database": functools.partial(names.resource_name, "database"),
        "connection": functools.partial(names.resource_name, "connection"),
        "job": job_name,
        "trigger": trigger_name,
        "crawler": crawler_name,
    }
)
# Which Sluice service each type belongs to (its resources are sluice:<service>:...).
SERVICES: Mapping[str, str] = MappingProxyType(
    {
        "database": "catalog",
        "connection": "catalog",
        "job": "jobs",
        "trigger": "jobs",
        "crawler": "jobs",
    }
)
_ARN = re.compile(
    r"arn:aws(?:-(?:cn|us-gov|iso(?:-[bef])?))?:glue:(?P<region>[a-z0-9-]*):"
    r"(?P<account>[0-9]*):(?P<kind>[A-Za-z]+)/(?P<name>.+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class GlueArn:
    """A parsed ARN; name normalised as the resource's store normalises it."""

    region: str
    account: str
    kind: str
    name: str


def parse_arn(arn: str) -> GlueArn:
    """The parts of a taggable resource's ARN.

    Raises:
        InvalidInput: Not a Glue ARN, or not one of a type Sluice tags, or a name the store
            would refuse.
    """
    if not arn:
        raise InvalidInput("ResourceArn must not be empty")
    if len(arn) > 10240:
        raise InvalidInput("ResourceArn is longer than 10240 characters")
    match = _ARN.fullmatch(arn)
    if match is None:
        raise InvalidInput("ResourceArn must be arn:aws:glue:<region>:<account>:<type>/<name>")
    kind = match["kind"]
    check = KINDS.get(kind)
    if check is None:
        allowed = ", ".join(KINDS)
        raise InvalidInput(f"ResourceArn's type {kind!r} cannot be tagged (types: {allowed})")
    return GlueArn(
        region=match["region"], account=match["account"], kind=kind, name=check(match["name"])
    )


def arn(region: str, account: str, kind: str, name: str) -> str:
    """The ARN of a resource."""
    return f"arn:aws:glue:{region}:{account}:{kind}/{name}"
