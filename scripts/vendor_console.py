"""Copies the console's browser components from node_modules (npm, package.json) into its static
dir, where they are committed: the console is served from the Python package, which has no npm.

    .venv/bin/python scripts/vendor_console.py          # after a version change in package.json
    .venv/bin/python scripts/vendor_console.py --check  # CI: the copies match node_modules
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "control_plane" / "console" / "static" / "vendor"
# package -> the files the console serves (CodeMirror 5, MIT: its LICENSE goes with it).
FILES = {
    "codemirror": ("lib/codemirror.js", "lib/codemirror.css", "mode/python/python.js", "LICENSE"),
}


def _copies() -> dict[Path, bytes]:
    """Each vendored file's path and the content it must have."""
    wanted: dict[Path, bytes] = {}
    for package, names in FILES.items():
        source = NODE_MODULES / package
        version = json.loads((source / "package.json").read_text())["version"]
        for name in names:
            wanted[VENDOR / package / name] = (source / name).read_bytes()
        wanted[VENDOR / package / "VERSION"] = f"{version}\n".encode()
    return wanted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a copy differs")
    check = parser.parse_args().check
    try:
        wanted = _copies()
    except FileNotFoundError as exc:
        print(f"vendor_console: {exc.filename} is missing: run `npm ci`", file=sys.stderr)
        return 1
    present = {p for p in VENDOR.rglob("*") if p.is_file()} if VENDOR.exists() else set()
    stale = sorted(p for p in present - wanted.keys())
    differ = sorted(p for p, data in wanted.items() if not p.exists() or p.read_bytes() != data)
    if check:
        for path in stale + differ:
            print(
                f"vendor_console: {path.relative_to(ROOT)} differs from node_modules",
                file=sys.stderr,
            )
        if stale or differ:
            print("vendor_console: run .venv/bin/python scripts/vendor_console.py", file=sys.stderr)
            return 1
        print("vendor_console: vendored files match node_modules")
        return 0
    for path in stale:
        path.unlink()
    for path in differ:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wanted[path])
    print(f"vendor_console: wrote {len(differ)} file(s), removed {len(stale)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
