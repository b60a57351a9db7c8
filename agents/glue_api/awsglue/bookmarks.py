"""Job bookmarks on the script's side: which input files each transformation_ctx has
processed, so that a bookmarked run reads only files that are new or changed since.

The state is JSON: {"contexts": {ctx: {"files": {path: modification time in ms}}}} for file
sources, {"keys": {column: the largest value read}} for JDBC sources with jobBookmarkKeys. The run
reads it at Job.init (GetJobBookmark) and hands the new one to the server at Job.commit; the
server makes it the job's bookmark only once the run has SUCCEEDED.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from awsglue.utils import BOOKMARK_DISABLE, BOOKMARK_ENABLE, BOOKMARK_PAUSE


@dataclass(frozen=True)
class InputFile:
    """A file a source would read, with its modification time (ms since the epoch)."""

    path: str
    modified_ms: int


@dataclass
class Bookmarks:
    """The bookmark option of a run and what its sources have read under it.

    Attributes:
        option: job-bookmark-enable, -disable or -pause.
        previous: Each context's state as the job's bookmark had it when the run began.
        read: Each context's files read by this run (only kept when enabled).
    """

    option: str = BOOKMARK_DISABLE
    previous: dict[str, dict[str, int]] = field(default_factory=dict)
    read: dict[str, dict[str, int]] = field(default_factory=dict)
    previous_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    read_keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, option: str, document: str) -> Bookmarks:
        """Bookmarks of a run, from the job's bookmark document ("" for none)."""
        contexts: Mapping[str, Any] = {}
        if document:
            contexts = json.loads(document).get("contexts", {})
        previous = {
            ctx: {str(p): int(m) for p, m in state.get("files", {}).items()}
            for ctx, state in contexts.items()
            if "files" in state
        }
        keys = {ctx: dict(state["keys"]) for ctx, state in contexts.items() if "keys" in state}
        return cls(option=option, previous=previous, previous_keys=keys)

    @property
    def active(self) -> bool:
        """Whether sources skip what earlier runs processed."""
        return self.option in (BOOKMARK_ENABLE, BOOKMARK_PAUSE)

    def unprocessed(self, ctx: str, files: Iterable[InputFile]) -> list[InputFile]:
        """The files of a source a run should read; records them when bookmarks are enabled.

        Without a transformation_ctx, or with bookmarks disabled, that is every file.
        """
        files = list(files)
        if not ctx or not self.active:
            return files
        seen = self.previous.get(ctx, {})
        new = [f for f in files if seen.get(f.path) != f.modified_ms]
        if self.option == BOOKMARK_ENABLE:
            self.read.setdefault(ctx, {}).update({f.path: f.modified_ms for f in new})
        return new

    def last_keys(self, ctx: str) -> dict[str, Any]:
        """The largest bookmark key values a JDBC source has read ({} for none, or when
        bookmarks do not apply)."""
        if not ctx or not self.active:
            return {}
        return dict(self.previous_keys.get(ctx, {}))

    def record_keys(self, ctx: str, values: Mapping[str, Any]) -> None:
        """The largest bookmark key values this run read (kept when enabled)."""
        if ctx and self.option == BOOKMARK_ENABLE and values:
            self.read_keys[ctx] = dict(values)

    def document(self) -> str:
        """The job's next bookmark: the previous state with what this run read added."""
        files = {ctx: dict(seen) for ctx, seen in self.previous.items()}
        for ctx, seen in self.read.items():
            files.setdefault(ctx, {}).update(seen)
        states: dict[str, dict[str, Any]] = {ctx: {"files": seen} for ctx, seen in files.items()}
        for ctx, keys in {**self.previous_keys, **self.read_keys}.items():
            states[ctx] = {"keys": keys}
        return json.dumps({"contexts": states}, sort_keys=True, default=str)
