"""The agent's allow-list for what Ray unpickles when job code runs as another user."""

from __future__ import annotations

import os
import pickle
import subprocess

import pytest
import ray.cloudpickle
from ray.exceptions import RayTaskError

from sluice.agents import safe_pickle
from sluice.agents.errors import EnvironmentLost
from sluice.common.errors import FailedPrecondition

pytestmark = pytest.mark.unit


class _Payload:
    def __reduce__(self):
        return (os.system, ("true",))


class _Local:
    pass


@pytest.mark.parametrize(
    "value",
    [
        _Payload(),
        _Local(),
        lambda: 1,
        subprocess.Popen,
        getattr,
    ],
)
def test_code_and_classes_are_refused(value: object) -> None:
    # cloudpickle, as Ray's workers use it: it sends what it cannot name by value.
    with pytest.raises(pickle.UnpicklingError, match="may not be unpickled"):
        safe_pickle.loads(ray.cloudpickle.dumps(value))


def test_data_and_errors_pass() -> None:
    data = {"run_id": "r1", "times": [1.0, None, 3], "ok": True, "raw": b"x", "set": {1}}
    assert safe_pickle.loads(ray.cloudpickle.dumps(data, protocol=5)) == data
    error = RayTaskError("progress", "Traceback ...", FailedPrecondition("not bound"))
    back = safe_pickle.loads(ray.cloudpickle.dumps(error))
    assert isinstance(back, RayTaskError) and isinstance(back.cause, FailedPrecondition)
    assert back.cause.message == "not bound"
    lost = safe_pickle.loads(pickle.dumps(EnvironmentLost("gone")))
    assert isinstance(lost, EnvironmentLost)
    assert isinstance(safe_pickle.loads(pickle.dumps(ValueError("x"))), ValueError)
