from __future__ import annotations

from pathlib import Path

import pytest

from sluice.agents import naming

pytestmark = pytest.mark.unit


def test_environment_names_round_trip() -> None:
    environment_id = naming.new_environment_id(naming.owner_tag(Path("/data")))
    namespace = naming.environment_namespace(environment_id)
    group = naming.placement_group_name(environment_id)
    assert namespace.startswith(naming.ENVIRONMENT_NAMESPACE_PREFIX)
    assert naming.environment_id_of_namespace(namespace) == environment_id
    assert naming.environment_id_of_placement_group(group) == environment_id
    assert naming.raydp_master_actor_name(environment_id) == (
        naming.spark_app_name(environment_id) + "_SPARK_MASTER"
    )


def test_environment_ids_are_unique_and_carry_their_owner() -> None:
    owner = naming.owner_tag(Path("/data/a"))
    ids = {naming.new_environment_id(owner) for _ in range(1000)}
    assert len(ids) == 1000
    assert {naming.environment_owner(i) for i in ids} == {owner}
    assert naming.owner_tag(Path("/data/b")) != owner


def test_foreign_names_are_not_environments() -> None:
    assert naming.environment_id_of_namespace(naming.CONTROL_NAMESPACE) is None
    assert naming.environment_id_of_namespace("sluice-env-NOTANID") is None
    assert naming.environment_id_of_placement_group("other-pg") is None
    assert naming.environment_id_of_placement_group("") is None


@pytest.mark.parametrize("bad", ["", "short", "UPPERCASE0123456", "0123456789abcdef0"])
def test_malformed_environment_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        naming.environment_namespace(bad)


def test_owner_tag_must_be_well_formed() -> None:
    with pytest.raises(ValueError):
        naming.new_environment_id("x")
