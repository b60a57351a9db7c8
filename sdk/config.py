"""Options of a Sluice client: one frozen dataclass, every default in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from sluice.sdk.trace_context import environment_traceparent, valid_traceparent

ADDRESS_ENV = "SLUICE_ADDRESS"
CATALOG_ID_ENV = "SLUICE_CATALOG_ID"
TOKEN_ENV = "SLUICE_TOKEN"
TLS_CA_ENV = "SLUICE_TLS_CA"
TLS_CERT_ENV = "SLUICE_TLS_CERT"
TLS_KEY_ENV = "SLUICE_TLS_KEY"
CONFIG_ENV = "SLUICE_CONFIG"
# Keys of the config file (YAML): address, token (or token_file), tls_ca, tls_cert, tls_key.
DEFAULT_CONFIG_PATH = "~/.sluice/config.yaml"
DEFAULT_ADDRESS = "localhost:50051"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ClientOptions:
    """How a client reaches the server and what it sends with every call.

    Attributes:
        address: host:port of the server. None means the SLUICE_ADDRESS environment variable,
            else localhost:50051; see `resolved_address`.
        catalog_id: The account that calls are scoped to when a call does not name one.
            Empty means the caller's default account.
        timeout_s: Deadline of each call in seconds; None for no deadline.
        max_message_bytes: Largest message the client sends or accepts.
        metadata: gRPC metadata sent with every call, as (key, value) pairs.
        channel_credentials: Credentials for a TLS channel; None to build them from the TLS
            files below, or a plaintext channel when there are none.
        token: The API token sent as `authorization: Bearer …`. None means $SLUICE_TOKEN,
            else the config file's `token` (or the file its `token_file` names).
        tls_ca_file: PEM file of the CA that signed the server's certificate; None means
            $SLUICE_TLS_CA, else the config file's `tls_ca`. With one, the channel uses TLS.
        tls_cert_file: The client's certificate (PEM) for mutual TLS; $SLUICE_TLS_CERT.
        tls_key_file: Its private key (PEM); $SLUICE_TLS_KEY.
        config_file: The config file; None means $SLUICE_CONFIG, else ~/.sluice/config.yaml
            (a missing file is no error).
        traceparent: The W3C traceparent sent with every call that sends none of its own, so
            the server records the calls in that trace. None means $TRACEPARENT (set in every
            job run and crawl: a run's calls join the trace of the call that started it); ""
            for none. An invalid value is ignored.
    """

    address: str | None = None
    catalog_id: str = ""
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    metadata: tuple[tuple[str, str], ...] = ()
    channel_credentials: grpc.ChannelCredentials | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    config_file: str | None = None
    traceparent: str | None = None

    def __post_init__(self) -> None:
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")
        if self.max_message_bytes <= 0:
            raise ValueError(f"max_message_bytes must be positive, not {self.max_message_bytes}")
        for pair in self.metadata:
            if len(pair) != 2 or not all(isinstance(part, str) for part in pair):
                raise ValueError(f"metadata entries must be (key, value) strings, not {pair!r}")

    def resolved_address(self, environ: Mapping[str, str] | None = None) -> str:
        """The address to dial: `address`, else $SLUICE_ADDRESS, else localhost:50051.

        Args:
            environ: The environment to read; the process environment when None.
        """
        env = os.environ if environ is None else environ
        return (
            self.address
            or env.get(ADDRESS_ENV)
            or str(self._file_settings(env).get("address") or "")
            or DEFAULT_ADDRESS
        )

    def resolved_token(self, environ: Mapping[str, str] | None = None) -> str:
        """The API token to send: `token`, else $SLUICE_TOKEN, else the config file's; "" if
        there is none."""
        env = os.environ if environ is None else environ
        if self.token is not None:
            return self.token
        if env.get(TOKEN_ENV):
            return env[TOKEN_ENV].strip()
        settings = self._file_settings(env)
        if settings.get("token"):
            return str(settings["token"]).strip()
        if settings.get("token_file"):
            path = Path(str(settings["token_file"])).expanduser()
            try:
                return path.read_text().strip()
            except OSError as exc:
                raise ValueError(f"cannot read token_file {path}: {exc.strerror}") from None
        return ""

    def resolved_traceparent(self, environ: Mapping[str, str] | None = None) -> str:
        """The traceparent to send: `traceparent`, else $TRACEPARENT; "" if none is valid."""
        if self.traceparent is not None:
            return valid_traceparent(self.traceparent)
        return environment_traceparent(os.environ if environ is None else environ)

    def resolved_credentials(
        self, environ: Mapping[str, str] | None = None
    ) -> grpc.ChannelCredentials | None:
        """TLS credentials for the channel, or None for plaintext."""
        if self.channel_credentials is not None:
            return self.channel_credentials
        env = os.environ if environ is None else environ
        settings = self._file_settings(env)

        def pick(value: str | None, env_name: str, key: str) -> bytes | None:
            chosen = value or env.get(env_name) or settings.get(key)
            if not chosen:
                return None
            path = Path(str(chosen)).expanduser()
            try:
                return path.read_bytes()
            except OSError as exc:
                raise ValueError(f"cannot read {key} file {path}: {exc.strerror}") from None

        ca = pick(self.tls_ca_file, TLS_CA_ENV, "tls_ca")
        cert = pick(self.tls_cert_file, TLS_CERT_ENV, "tls_cert")
        key = pick(self.tls_key_file, TLS_KEY_ENV, "tls_key")
        if ca is None and cert is None:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )

    def _file_settings(self, env: Mapping[str, str]) -> Mapping[str, object]:
        path = Path(self.config_file or env.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH).expanduser()
        try:
            text = path.read_text()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ValueError(f"cannot read config file {path}: {exc.strerror}") from None
        import yaml  # only when a config file exists: keeps the CLI's start-up fast

        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"config file {path} must be a mapping of settings")
        return loaded

    def channel_options(self) -> Sequence[tuple[str, int]]:
        """The gRPC channel arguments these options imply."""
        return (
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
        )
