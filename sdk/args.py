"""Job arguments for scripts, as AWS Glue's awsglue.utils gives them.

A run's arguments reach its script as `--key value` pairs in sys.argv (`--JOB_NAME`,
`--JOB_RUN_ID` and the run's own), as in Glue:

    import sys
    from sluice.sdk.args import getResolvedOptions

    args = getResolvedOptions(sys.argv, ["JOB_NAME", "day"])
"""

from __future__ import annotations

from collections.abc import Sequence


class MissingArgumentError(ValueError):
    """A script asked for an argument its run was not given."""


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str]:
    """The values of the named options in args, as awsglue.utils.getResolvedOptions returns them.

    Args:
        args: usually sys.argv; args[0] (the script) is skipped. Both `--key value` and
            `--key=value` are understood; the last occurrence of a key wins.
        options: names without the leading dashes, e.g. ["JOB_NAME", "input_path"].

    Returns:
        A dict from each requested name to its value.

    Raises:
        MissingArgumentError: a requested option is absent or has no value.
    """
    parsed = parse_arguments(args[1:])
    missing = [name for name in options if name not in parsed]
    if missing:
        raise MissingArgumentError(
            "the following arguments are required: " + ", ".join("--" + m for m in missing)
        )
    return {name: parsed[name] for name in options}


def parse_arguments(tokens: Sequence[str]) -> dict[str, str]:
    """Every `--key value` and `--key=value` pair in tokens; other tokens are ignored."""
    parsed: dict[str, str] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--") or token == "--":
            continue
        name, sep, value = token[2:].partition("=")
        if sep:
            parsed[name] = value
        elif index < len(tokens):
            parsed[name] = tokens[index]
            index += 1
    return parsed
