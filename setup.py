"""Packaging: everything installs under the one `sluice` namespace.

The repository keeps its top-level folders (common/, catalog/, agents/, sdk/, control_plane/) and
the generated API under sluice/; this maps each folder to its place in the namespace.
"""

from setuptools import find_packages, setup

# folder -> package
FOLDERS = {
    "common": "sluice.common",
    "catalog": "sluice.catalog.core",
    "agents": "sluice.agents",
    "sdk": "sluice.sdk",
    "control_plane": "sluice.control_plane",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages = find_packages(include=["sluice", "sluice.*"])
    package_dir: dict[str, str] = {}
    for folder, package in FOLDERS.items():
        package_dir[package] = folder
        packages += [package, *(f"{package}.{sub}" for sub in find_packages(folder))]
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
