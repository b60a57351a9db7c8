"""Where a triggered run's network comes from: its job's first connection, as StartJobRun's."""

from __future__ import annotations

from sluice.catalog.core.store.base import CatalogStore
from sluice.common.errors import EntityNotFound
from sluice.control_plane.jobs.store import JobStore
from sluice.control_plane.jobs.triggers.store import Network


def job_network(jobs: JobStore, catalog: CatalogStore | None) -> Network:
    """(account, job name) -> the subnet and security group of the job's runs; EntityNotFound
    when the job or its connection is gone."""

    def network(account: str, job_name: str) -> tuple[str, str]:
        job = jobs.get_job(account, job_name)
        if not job.connections or catalog is None:
            return "", ""
        name = job.connections[0]
        try:
            connection = catalog.get_connection(account, name)
        except EntityNotFound:
            raise EntityNotFound(
                f"Connection {name} of job {job.name} not found", connection_name=name
            ) from None
        requirements = connection.physical_connection_requirements
        if requirements is None:
            return "", ""
        groups = requirements.security_group_id_list
        return requirements.subnet_id, groups[0] if groups else ""

    return network
