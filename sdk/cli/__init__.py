"""The `sluice` command line, built on the SDK."""
