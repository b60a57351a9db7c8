"""Glue's worker types turned into Spark executors: the one place that mapping lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs.model import (
    DEFAULT_NUMBER_OF_WORKERS,
    DEFAULT_WORKER_TYPE,
    CommandName,
    WorkerSpec,
    WorkerType,
)

MIN_WORKERS = 2
MAX_WORKERS = 299


@dataclass(frozen=True)
class _Shape:
    cores: int
    memory_mb: int


# Glue's ratios (G.2X is twice G.1X, ...) scaled down to what one machine running Ray can hold.
_SHAPES: Mapping[WorkerType, _Shape] = MappingProxyType(
    {
        WorkerType.STANDARD: _Shape(cores=1, memory_mb=1024),
        WorkerType.G_1X: _Shape(cores=1, memory_mb=1024),
        WorkerType.G_2X: _Shape(cores=2, memory_mb=2048),
        WorkerType.G_4X: _Shape(cores=4, memory_mb=4096),
    }
)
# A Python shell job has no executors, only the driver process.
_PYTHON_SHELL = _Shape(cores=1, memory_mb=1024)


def checked_worker_type(value: str) -> str:
    """A worker type as given; "" becomes the default. InvalidInput if Glue has no such type."""
    if not value:
        return DEFAULT_WORKER_TYPE
    try:
        return str(WorkerType(value))
    except ValueError:
        allowed = ", ".join(str(t) for t in WorkerType)
        raise InvalidInput(f"worker_type {value!r} is not one of {allowed}") from None


def checked_number_of_workers(value: int) -> int:
    """0 becomes the default; otherwise 2..299, as Glue: one worker is the driver."""
    if value == 0:
        return DEFAULT_NUMBER_OF_WORKERS
    if not MIN_WORKERS <= value <= MAX_WORKERS:
        raise InvalidInput(f"number_of_workers must be between {MIN_WORKERS} and {MAX_WORKERS}")
    return value


def worker_spec(command: CommandName, worker_type: str, number_of_workers: int) -> WorkerSpec:
    """The executors, cores and memory of a run.

    As in Glue, one worker hosts the driver and each of the others one executor of the worker
    type's shape. A pythonshell run is a lone driver.
    """
    kind = WorkerType(checked_worker_type(worker_type))
    workers = checked_number_of_workers(number_of_workers)
    if command is CommandName.PYTHONSHELL:
        return WorkerSpec(
            worker_type=str(kind),
            number_of_workers=workers,
            num_executors=0,
            executor_cores=0,
            executor_memory_mb=0,
            driver_cores=_PYTHON_SHELL.cores,
            driver_memory_mb=_PYTHON_SHELL.memory_mb,
        )
    shape = _SHAPES[kind]
    return WorkerSpec(
        worker_type=str(kind),
        number_of_workers=workers,
        num_executors=workers - 1,
        executor_cores=shape.cores,
        executor_memory_mb=shape.memory_mb,
        driver_cores=shape.cores,
        driver_memory_mb=shape.memory_mb,
    )
