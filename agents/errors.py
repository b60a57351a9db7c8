"""Errors of the agents, in the SluiceError hierarchy (each knows its gRPC status)."""

from __future__ import annotations

from sluice.common.errors import FailedPrecondition, InternalError, ResourceNumberLimitExceeded


class EnvironmentLost(InternalError):
    """An environment's host actor is gone (its process died or it was removed)."""


class EnvironmentUnresponsive(InternalError):
    """An environment's host actor did not answer in time."""


class EnvironmentStartFailed(InternalError):
    """An environment could not be started."""


class NoCapacity(ResourceNumberLimitExceeded):
    """No room for another environment: the limit is reached or the cluster cannot place it."""


class ClusterUnavailable(FailedPrecondition):
    """Ray could not be started or reached."""


class AgentUnavailable(NoCapacity):
    """The agent is starting, stopping or unreachable: nothing was recorded of the request,
    which may be made again once the agent is back."""
