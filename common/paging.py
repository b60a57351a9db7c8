"""Paging: requests, pages, and opaque tamper-checked next_tokens.

A token is base64url(JSON payload) "." base64url(HMAC-SHA256 tag). The payload names the scope
it was issued for (the list call and its filters), so a token can neither be forged nor be
replayed against another query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sluice.common.errors import InvalidInput
from sluice.common.limits import MAX_PAGE_SIZE

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_RESULTS = 100
_TAG_BYTES = 16


@dataclass(frozen=True)
class Segment:
    segment_number: int
    total_segments: int


@dataclass(frozen=True)
class PageRequest:
    max_results: int = 0  # 0 means the default
    next_token: str = ""
    segment: Segment | None = None
    # The call's own bound on max_results (Glue's, from sluice.common.limits).
    max_allowed: int = MAX_PAGE_SIZE

    def limit(self) -> int:
        if self.max_results < 0 or self.max_results > self.max_allowed:
            raise InvalidInput(f"max_results must be between 1 and {self.max_allowed}")
        return self.max_results or min(DEFAULT_MAX_RESULTS, self.max_allowed)

    def checked_segment(self) -> Segment | None:
        seg = self.segment
        if seg is None or (seg.total_segments == 0 and seg.segment_number == 0):
            return None
        if not 1 <= seg.total_segments <= 10:
            raise InvalidInput("segment.total_segments must be between 1 and 10")
        if not 0 <= seg.segment_number < seg.total_segments:
            raise InvalidInput("segment.segment_number must be in [0, total_segments)")
        return seg


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_token: str = ""


@dataclass(frozen=True)
class PageQuery:
    """A list call's paging, checked: where to resume, and the scope its tokens are bound to."""

    limit: int
    segment: Segment | None
    scope: str
    after: Any


def scope_of(*parts: object) -> str:
    """A short stable digest of what a list call was asked, to bind its tokens to it."""
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class PageTokenCodec:
    """Signs and checks next_tokens with a server-side key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("page token key must be at least 16 bytes")
        self._key = key

    def encode(self, scope: str, position: Any) -> str:
        payload = json.dumps({"s": scope, "p": position}, separators=(",", ":")).encode()
        tag = hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]
        return f"{_b64(payload)}.{_b64(tag)}"

    def decode(self, token: str, scope: str) -> Any:
        """The position a token carries; InvalidInput if it was forged or issued elsewhere."""
        try:
            payload_text, tag_text = token.split(".", 1)
            payload = _unb64(payload_text)
            tag = _unb64(tag_text)
        except (ValueError, binascii.Error):
            raise InvalidInput("next_token is malformed") from None
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            raise InvalidInput("next_token is not valid: altered, or not issued by this server")
        data = json.loads(payload)
        if data.get("s") != scope:
            raise InvalidInput("next_token was issued for a different request")
        return data.get("p")

    def page_query(
        self, page: PageRequest, position_type: type | tuple[type, ...], *scope: object
    ) -> PageQuery:
        """Checks a PageRequest; scope names the call and every argument that shapes its result.

        position_type is what the call's positions are (a name, an id, ...): a token carrying
        anything else is refused even when its signature is good.
        """
        limit = page.limit()
        segment = page.checked_segment()
        seg = None if segment is None else (segment.segment_number, segment.total_segments)
        bound = scope_of(*scope, seg)
        after = None
        if page.next_token:
            after = self.decode(page.next_token, bound)
            if not isinstance(after, position_type) or isinstance(after, bool):
                raise InvalidInput("next_token is not valid for this request")
        return PageQuery(limit=limit, segment=segment, scope=bound, after=after)

    def page_of(
        self, query: PageQuery, rows: Sequence[R], position: Callable[[R], Any]
    ) -> tuple[Sequence[R], str]:
        """rows were fetched with limit + 1: the extra row, if any, says there is another page."""
        if len(rows) <= query.limit:
            return rows, ""
        kept = rows[: query.limit]
        return kept, self.encode(query.scope, position(kept[-1]))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Only the one canonical spelling of some bytes decodes: a token whose unused low bits or
    characters outside the alphabet were changed is refused, not read as the same token."""
    raw = base64.b64decode(
        text.encode("ascii") + b"=" * (-len(text) % 4), altchars=b"-_", validate=True
    )
    if _b64(raw) != text:
        raise ValueError("not a canonical encoding")
    return raw
