"""Names of everything the agents create on Ray: namespaces, actors, placement groups, Spark apps.

Built here and only here, so that a restarted control plane finds its environments again by name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

# Every environment lives in its own namespace: RayDP names its app master RAY_APP_MASTER in the
# namespace of the process that starts Spark, so two environments cannot share one.
ENVIRONMENT_NAMESPACE_PREFIX = "sluice-env-"
CONTROL_NAMESPACE = "sluice-control"
HOST_ACTOR_NAME = "host"
PLACEMENT_GROUP_PREFIX = "sluice-pg-"
SPARK_APP_PREFIX = "sluice-"
# RayDP names its master actor after the Spark app (raydp.spark.ray_cluster_master).
RAYDP_MASTER_SUFFIX = "_SPARK_MASTER"
RAYDP_EXECUTOR_PREFIX = "raydp-executor-"
# Every process of an embedded head carries this variable (value: the head's ray dir), so a
# head's processes are found, and only they are stopped, even with other clusters on the host.
HEAD_MARKER_VAR = "SLUICE_AGENTS_HEAD"
# Each environment's kernel limits are cgroups of this name (see sluice.agents.limits).
CGROUP_PREFIX = "sluice-env-"

_ENVIRONMENT_ID = re.compile(r"^[a-z0-9]{16}$")
_OWNER_CHARS = 8


def owner_tag(data_dir: Path) -> str:
    """The tag of the control plane owning environments: a digest of its data dir.

    Control planes with different data dirs may share a cluster; each takes over only the
    environments whose ids carry its tag.
    """
    return hashlib.sha256(str(data_dir).encode()).hexdigest()[:_OWNER_CHARS]


def new_environment_id(owner: str) -> str:
    """A fresh environment id of owner: its tag, then random hex (16 characters in all)."""
    if not re.match(rf"^[a-z0-9]{{{_OWNER_CHARS}}}$", owner):
        raise ValueError(f"not an owner tag: {owner!r}")
    return owner + secrets.token_hex(4)


def environment_owner(environment_id: str) -> str:
    """The owner tag an environment id carries."""
    return _checked(environment_id)[:_OWNER_CHARS]


def is_environment_id(value: str) -> bool:
    """Whether value has the shape of an environment id."""
    return bool(_ENVIRONMENT_ID.match(value))


def environment_namespace(environment_id: str) -> str:
    """The Ray namespace of an environment: its host actor, RayDP master and executors."""
    return ENVIRONMENT_NAMESPACE_PREFIX + _checked(environment_id)


def environment_id_of_namespace(namespace: str) -> str | None:
    """The environment id a namespace belongs to, or None for other namespaces."""
    return _suffix_id(namespace, ENVIRONMENT_NAMESPACE_PREFIX)


def placement_group_name(environment_id: str) -> str:
    """The name of an environment's detached placement group."""
    return PLACEMENT_GROUP_PREFIX + _checked(environment_id)


def environment_id_of_placement_group(name: str) -> str | None:
    """The environment id a placement group belongs to, or None for other groups."""
    return _suffix_id(name, PLACEMENT_GROUP_PREFIX)


def spark_app_name(environment_id: str) -> str:
    """The Spark application name of an environment."""
    return SPARK_APP_PREFIX + _checked(environment_id)


def raydp_master_actor_name(environment_id: str) -> str:
    """The name RayDP gives the master actor of an environment's Spark app."""
    return spark_app_name(environment_id) + RAYDP_MASTER_SUFFIX


def cgroup_name(environment_id: str) -> str:
    """The name of an environment's cgroups (one per controller)."""
    return CGROUP_PREFIX + _checked(environment_id)


def environment_id_of_cgroup(name: str) -> str | None:
    """The environment id a cgroup belongs to, or None for other cgroups."""
    return _suffix_id(name, CGROUP_PREFIX)


def _checked(environment_id: str) -> str:
    if not is_environment_id(environment_id):
        raise ValueError(f"not an environment id: {environment_id!r}")
    return environment_id


def _suffix_id(name: str, prefix: str) -> str | None:
    if not name.startswith(prefix):
        return None
    candidate = name[len(prefix) :]
    return candidate if is_environment_id(candidate) else None
