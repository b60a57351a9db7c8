"""Everything Sluice runs on Ray: isolated Spark environments (RayDP), a warm pool, runs.

The agent process (`python -m sluice.agents.service`) is the Ray driver: it hosts
agents.supervisor.RunSupervisor (launch, progress, stop, read_log, pool_status, start/shutdown)
configured by agents.config.AgentsConfig. The control plane starts it and calls it through
agents.client.AgentClient (sluice.agents.api: the internal API), so it never imports Ray itself.
Scripts use only the public SDK: `from sluice.sdk.args import getResolvedOptions`.
This package never imports control_plane.
"""
