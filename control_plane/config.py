"""Configuration of the control-plane server: one frozen pydantic model, defaults in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from catalog import names
from catalog.model import DEFAULT_CATALOG_ID
from common.db import sqlite_url
from common.errors import InvalidInput

MIB = 1024 * 1024
_SUPPORTED_DATABASES = ("sqlite", "postgresql", "postgres")


class ServerConfig(BaseModel):
    """Everything the server needs to start. A field the model does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=50051, ge=0, le=65535, description="0 picks a free port")
    data_dir: Path = Field(default_factory=lambda: Path("~/.sluice"), validate_default=True)
    db_url: str | None = Field(
        default=None, description="None: the SQLite file sluice.db in data_dir"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    max_message_bytes: int = Field(default=16 * MIB, ge=1024, le=2**31 - 1)
    max_workers: int = Field(default=8, ge=1, le=256)
    default_catalog_id: str = DEFAULT_CATALOG_ID
    shutdown_grace_s: float = Field(default=5.0, ge=0, le=300)

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("db_url")
    @classmethod
    def _check_db_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL; use sqlite:///path/to/file.db or "
                "postgresql://user@host:port/database"
            ) from None
        if url.get_backend_name() not in _SUPPORTED_DATABASES:
            raise ValueError(
                f"unsupported database {url.get_backend_name()!r}; use sqlite or postgresql"
            )
        return value

    @field_validator("default_catalog_id")
    @classmethod
    def _check_catalog_id(cls, value: str) -> str:
        try:
            return names.catalog_id(value, DEFAULT_CATALOG_ID)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @property
    def database_url(self) -> str:
        """The URL the server opens: db_url, or the SQLite file in data_dir."""
        return self.db_url if self.db_url is not None else sqlite_url(self.data_dir)

    @property
    def address(self) -> str:
        """host:port as gRPC takes it (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the setting, for people rather than for pydantic."""
    lines = []
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "config"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{where}: {message.removeprefix('Value error, ')}")
    return "; ".join(lines)
