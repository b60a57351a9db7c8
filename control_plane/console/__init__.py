"""The Sluice console: a browser door onto the gRPC API (server-rendered pages, SSE)."""
