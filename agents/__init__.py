"""Everything Sluice runs on Ray: isolated Spark environments (RayDP), a warm pool, runs.

The control plane uses agents.supervisor.RunSupervisor (launch, progress, stop, read_log,
pool_status, start/shutdown) configured by agents.config.AgentsConfig. Scripts read their
Glue-style arguments with `from agents.glue_args import getResolvedOptions`.
This package never imports control_plane.
"""
