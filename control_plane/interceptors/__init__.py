"""Server interceptors: request ids with one access-log line per call, and the one place
where domain errors become gRPC statuses."""

from sluice.control_plane.interceptors.access_log import AccessLogInterceptor
from sluice.control_plane.interceptors.errors import ErrorInterceptor

__all__ = ["AccessLogInterceptor", "ErrorInterceptor"]
