"""The isolation tuple: runs of one tuple may share an environment, runs of two tuples never."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sluice.common.errors import InvalidInput


@dataclass(frozen=True)
class IsolationTuple:
    """(account, role, subnet, security group) of a run."""

    account: str
    role: str
    subnet: str = ""
    security_group: str = ""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, str) or len(value) > 2048:
                raise InvalidInput(f"isolation {name} must be a string of at most 2048 chars")
        if not self.account or not self.role:
            raise InvalidInput("isolation account and role must not be empty")

    def key(self) -> str:
        """A stable digest naming the tuple; equal tuples, equal keys."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_dict(self) -> dict[str, str]:
        """Plain values, to cross process boundaries."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, str]) -> IsolationTuple:
        """The inverse of to_dict."""
        return cls(
            account=values["account"],
            role=values["role"],
            subnet=values.get("subnet", ""),
            security_group=values.get("security_group", ""),
        )
