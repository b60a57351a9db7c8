"""Sluice's own implementation of the documented awsglue Python API, on plain PySpark.

Glue scripts begin `from awsglue.context import GlueContext`. The package ships inside the
sluice namespace (sluice.agents.glue_api.awsglue) and the script runner puts this folder on a
run's sys.path, so `import awsglue` works in every run. Elsewhere (a laptop, a test), put it on
the path without a .pth file: `PYTHONPATH=$(python -m sluice.agents.glue_api) python etl.py`.
"""

from __future__ import annotations

from pathlib import Path

# The folder holding the awsglue package: what goes on sys.path for `import awsglue`.
PATH = str(Path(__file__).resolve().parent)

__all__ = ["PATH"]
