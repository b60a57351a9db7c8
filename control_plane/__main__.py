"""`python -m sluice.control_plane`: the same as `sluice server`."""

from sluice.control_plane.cli import server

if __name__ == "__main__":
    server.main(prog_name="python -m sluice.control_plane")
