"""Restricted unpickling for a Ray driver whose cluster runs job code as another user.

Ray's driver unpickles what workers send it: task results, task errors, actor classes from the
GCS. When the head's processes run as an unprivileged user (run_as) and the driver is root, a
job script could send a pickle that runs code in the driver, as root. harden_driver() makes
this process's Ray unpickle with an allow-list: plain data, exceptions of Ray, Sluice and
Python, and classes importable by reference from a few modules; anything else (functions,
classes sent by value, os.system...) fails to unpickle.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import sys
import threading
from types import ModuleType
from typing import Any

# Modules whose classes may be named in a pickle the driver reads: their exceptions only.
_EXCEPTION_MODULES = frozenset({"ray.exceptions", "sluice.common.errors", "sluice.agents.errors"})
# Classes and functions a pickle may name besides exceptions.
_ALLOWED = frozenset(
    {
        ("builtins", name)
        for name in (
            "dict",
            "list",
            "tuple",
            "set",
            "frozenset",
            "str",
            "bytes",
            "bytearray",
            "int",
            "float",
            "complex",
            "bool",
            "object",
        )
    }
    | {
        ("copyreg", "_reconstructor"),
        # What placement_group.ready() resolves to: an id and a list of bundles.
        ("ray.util.placement_group", "PlacementGroup"),
        ("ray._raylet", "PlacementGroupID"),
    }
)
# Set SLUICE_PICKLE_AUDIT=<file> to log every global a driver's pickle names (allowed or not).
_AUDIT_VAR = "SLUICE_PICKLE_AUDIT"
_lock = threading.Lock()
_hardened = False


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _allowed(module, name)
        audit = os.environ.get(_AUDIT_VAR)
        if audit:
            with open(audit, "a", encoding="utf-8") as out:
                out.write(f"{'ok' if allowed else 'REFUSED'} {module} {name}\n")
        if not allowed:
            raise pickle.UnpicklingError(f"{module}.{name} may not be unpickled by the agent")
        return super().find_class(module, name)


def _allowed(module: str, name: str) -> bool:
    if (module, name) in _ALLOWED:
        return True
    if "." in name:
        return False
    if module == "builtins":
        value = getattr(builtins, name, None)
        return isinstance(value, type) and issubclass(value, BaseException)
    if module in _EXCEPTION_MODULES:
        value = getattr(sys.modules.get(module), name, None)
        return isinstance(value, type) and issubclass(value, BaseException)
    return False


def loads(data: Any, *, buffers: Any = None, **_: Any) -> Any:
    """pickle.loads with the allow-list."""
    return _RestrictedUnpickler(io.BytesIO(bytes(data)), buffers=buffers).load()


class _Shim(ModuleType):
    """A stand-in for the pickle module of a Ray module: all of it, but loads restricted."""

    def __init__(self, wrapped: ModuleType) -> None:
        super().__init__(wrapped.__name__)
        self._wrapped = wrapped
        self.loads = loads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def harden_driver() -> None:
    """Make this process's Ray unpickle only allowed globals (idempotent).

    Call before connecting to a cluster whose workers this process does not trust.
    """
    global _hardened
    # Imported here: only a driver process pays for Ray's import.
    from ray import exceptions
    from ray._private import function_manager, serialization

    with _lock:
        if _hardened:
            return
        for module in (serialization, exceptions, function_manager):
            module.pickle = _Shim(module.pickle)  # type: ignore[attr-defined]
        _hardened = True


def load_classes_locally() -> None:
    """After ray.init: take actor classes from this process's own modules, not the pickled
    copies in the GCS (which the workers' token could replace, and the allow-list refuses)."""
    from ray._private import worker

    worker.global_worker.set_load_code_from_local(True)
