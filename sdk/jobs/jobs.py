"""Job definitions and their scripts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from sluice.jobs.v1 import jobs_pb2, types_pb2
from sluice.sdk.jobs._base import JobsBase
from sluice.sdk.messages import to_message

M = TypeVar("M", bound=Message)

JobLike = jobs_pb2.CreateJobRequest | types_pb2.Job | Mapping[str, Any]
JobUpdateLike = types_pb2.JobUpdate | types_pb2.Job | Mapping[str, Any]


class JobDefinitionsMixin(JobsBase):
    """Job calls of JobsClient: define, read, change and delete jobs, upload their scripts."""

    def create(self, job: JobLike) -> str:
        """Creates a job.

        Args:
            job: The job: a CreateJobRequest, a Job (its timestamps are ignored), or a dict
                of their fields, e.g. {"name": "daily", "role": "etl",
                "command": {"name": "glueetl", "script_location": "sluice://scripts/daily.py"},
                "default_arguments": {"--input": "file:///data/in"}}.

        Returns:
            The job's name.

        Raises:
            AlreadyExists: A job of that name exists.
            InvalidInput: A field is not valid (e.g. an unknown command or worker type).
            TypeError, ValueError: `job` is not a job, or names a field jobs do not have.
        """
        request = _converted(job, jobs_pb2.CreateJobRequest, what="job")
        response: jobs_pb2.CreateJobResponse = self._call(self._stub.CreateJob, request)
        return response.name

    def get(self, name: str) -> types_pb2.Job:
        """The job called `name`.

        Raises:
            EntityNotFound: There is no such job.
        """
        response: jobs_pb2.GetJobResponse = self._call(
            self._stub.GetJob, jobs_pb2.GetJobRequest(job_name=name)
        )
        return response.job

    def get_many(self, *, page_size: int | None = None) -> Iterator[types_pb2.Job]:
        """Every job, by name, fetching pages as the iteration needs them.

        Args:
            page_size: Jobs per call (at most 1000); the server's default when None.
        """
        request = jobs_pb2.GetJobsRequest(max_results=page_size or 0)
        return self._paginate(self._stub.GetJobs, request, "jobs")

    def update(self, name: str, job_update: JobUpdateLike) -> None:
        """Replaces the definition of job `name`; runs already started keep theirs.

        Args:
            name: The job's name.
            job_update: The new definition: a JobUpdate, a Job (its name, tags and timestamps
                are ignored, so a job from `get` can be changed and sent back), or a dict of
                JobUpdate fields. Fields left out are reset to their defaults.

        Raises:
            EntityNotFound: There is no such job.
            InvalidInput: A field is not valid.
        """
        request = jobs_pb2.UpdateJobRequest(
            job_name=name,
            job_update=_converted(job_update, types_pb2.JobUpdate, what="job_update"),
        )
        self._call(self._stub.UpdateJob, request)

    def delete(self, name: str) -> None:
        """Deletes a job and its finished runs; its active runs are stopped.

        As in Glue, deleting a job that does not exist is not an error.
        """
        self._call(self._stub.DeleteJob, jobs_pb2.DeleteJobRequest(job_name=name))

    def upload_script(
        self,
        name: str,
        content: bytes | str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> str:
        """Stores a script on the server, replacing any script of the same name.

        Args:
            name: A file name such as etl.py (letters, digits, '_', '.', '-').
            content: The script's text or bytes; give this or `path`.
            path: A local file to read the script from.

        Returns:
            The script's location (sluice://scripts/NAME), for a job's
            command.script_location.

        Raises:
            InvalidInput: The name is not valid or the script is too large.
            ValueError: Neither or both of `content` and `path` were given.
            OSError: `path` cannot be read.
        """
        if (content is None) == (path is None):
            raise ValueError("give the script's content or its path, not both or neither")
        if path is not None:
            data = Path(path).read_bytes()
        elif isinstance(content, str):
            data = content.encode("utf-8")
        elif isinstance(content, bytes):
            data = content
        else:
            raise TypeError(f"content: expected bytes or str, not {type(content).__name__}")
        response: jobs_pb2.UploadScriptResponse = self._call(
            self._stub.UploadScript, jobs_pb2.UploadScriptRequest(name=name, content=data)
        )
        return response.script_location

    def list(
        self, *, tags: Mapping[str, str] | None = None, page_size: int | None = None
    ) -> Iterator[str]:
        """The names of the jobs, by name, fetching pages as the iteration needs them.

        Args:
            tags: Only jobs carrying every one of these tags.
            page_size: Names per call (at most 1000); the server's default when None.
        """
        request = jobs_pb2.ListJobsRequest(tags=dict(tags or {}), max_results=page_size or 0)
        return self._paginate(self._stub.ListJobs, request, "job_names")


def _converted(value: Message | Mapping[str, Any], cls: type[M], *, what: str) -> M:
    """`value` as a `cls`; a Job message gives the fields `cls` shares with it."""
    if isinstance(value, types_pb2.Job) and cls is not types_pb2.Job:
        known = cls.DESCRIPTOR.fields_by_name
        data = json_format.MessageToDict(value, preserving_proto_field_name=True)
        return json_format.ParseDict({k: v for k, v in data.items() if k in known}, cls())
    return to_message(value, cls, what=what)
