"""Moved to the public SDK, `sluice.sdk.args`, which job scripts import; kept for the agent's
own imports (agents.glue_api)."""

from sluice.sdk.args import MissingArgumentError, getResolvedOptions, parse_arguments

__all__ = ["MissingArgumentError", "getResolvedOptions", "parse_arguments"]
