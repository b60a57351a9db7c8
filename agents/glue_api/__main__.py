"""`python -m sluice.agents.glue_api` prints the folder to put on PYTHONPATH (`import awsglue`)."""

from sluice.agents.glue_api import PATH

print(PATH)
