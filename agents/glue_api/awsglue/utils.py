"""awsglue.utils: getResolvedOptions with Glue's reserved arguments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluice.sdk.args import MissingArgumentError, parse_arguments
from sluice.sdk.args import getResolvedOptions as _required_options

BOOKMARK_OPTION = "job-bookmark-option"
BOOKMARK_ENABLE = "job-bookmark-enable"
BOOKMARK_DISABLE = "job-bookmark-disable"
BOOKMARK_PAUSE = "job-bookmark-pause"
BOOKMARK_CHOICES = (BOOKMARK_ENABLE, BOOKMARK_DISABLE, BOOKMARK_PAUSE)
# Arguments Glue passes every run; a script may not ask for these by name.
_RESERVED = (BOOKMARK_OPTION, "continuation-option", "job-bookmark-from", "job-bookmark-to")
# Reserved arguments Glue's getResolvedOptions always returns (None when the run has none).
_ALWAYS = ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "TempDir", "RedshiftTempDir")


class GlueArgumentError(ValueError):
    """An argument is missing, reserved, or has a value Glue does not accept."""


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
    """The values of the named options in args, with Glue's reserved arguments, as Glue returns.

    Args:
        args: usually sys.argv (args[0], the script, is skipped); `--key value` or `--key=value`.
        options: names without the leading dashes, e.g. ["JOB_NAME", "input_path"].

    Returns:
        Each requested option's value, plus `job_bookmark_option` (job-bookmark-disable unless
        given), `job_bookmark_from`/`job_bookmark_to`, JOB_ID, JOB_RUN_ID,
        SECURITY_CONFIGURATION, TempDir and RedshiftTempDir (None when absent).

    Raises:
        GlueArgumentError: a requested option is absent, an option is a reserved name, or
            --job-bookmark-option is not one of Glue's three values.
    """
    reserved = [name for name in options if name in _RESERVED]
    if reserved:
        raise GlueArgumentError("Using reserved arguments " + ", ".join("--" + r for r in reserved))
    try:
        requested = _required_options(args, options)
    except MissingArgumentError as exc:
        raise GlueArgumentError(str(exc)) from None
    given = parse_arguments(args[1:])
    bookmark = given.get(BOOKMARK_OPTION, BOOKMARK_DISABLE)
    if bookmark not in BOOKMARK_CHOICES:
        raise GlueArgumentError(
            f"argument --{BOOKMARK_OPTION}: invalid choice: {bookmark!r} (choose from "
            + ", ".join(repr(c) for c in BOOKMARK_CHOICES)
            + ")"
        )
    resolved: dict[str, Any] = {
        "job_bookmark_option": bookmark,
        "job_bookmark_from": given.get("job-bookmark-from"),
        "job_bookmark_to": given.get("job-bookmark-to"),
    }
    resolved.update({name: given.get(name) for name in _ALWAYS})
    resolved.update(requested)
    return resolved


__all__ = ["GlueArgumentError", "getResolvedOptions"]
