"""Encryption of secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256), keys rotatable.

The key comes from the environment variable SLUICE_SECRET_KEY (one Fernet key, or several
separated by commas: the first encrypts, all decrypt), or else from `<data-dir>/secret.key`,
created on first use with mode 0600 (one key per line, the first encrypts). Encrypted values
carry the prefix `enc:v1:`, so a value stored before encryption was turned on is recognised as
plaintext, read as it is, and encrypted when it is next written.

Losing the key loses every secret encrypted with it: back the key file up with the database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sluice.common.errors import InternalError

ENCRYPTED_PREFIX = "enc:v1:"
SECRET_KEY_ENV = "SLUICE_SECRET_KEY"
SECRET_KEY_FILE = "secret.key"

# The server's own secrets that may sit in its environment. Processes it starts for job code
# (the embedded Ray head, whose workers inherit its environment) must not receive them.
SERVER_SECRET_VARIABLES = frozenset({SECRET_KEY_ENV, "SLUICE_TOKEN", "SLUICE_BOOTSTRAP_TOKEN"})

_FERNET_KEY_HINT = "a Fernet key is 32 url-safe base64-encoded bytes (Fernet.generate_key())"


class SecretKeyError(Exception):
    """The encryption key is missing, malformed or unsafely stored.

    The message names where the key came from, never the key itself; the server reports it and
    refuses to start.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SecretDecryptError(InternalError):
    """A stored secret cannot be decrypted: it was altered, or encrypted with another key."""


class SecretBox:
    """Encrypts and decrypts secret strings with one or more Fernet keys.

    Args:
        keys: Fernet keys, the one to encrypt with first; the others still decrypt values
            written before a rotation.

    Raises:
        SecretKeyError: keys is empty or holds something that is not a Fernet key.
    """

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if not keys:
            raise SecretKeyError("no secret key given")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                raise SecretKeyError(
                    f"secret key {position} of {len(keys)} is not a Fernet key: {_FERNET_KEY_HINT}"
                ) from None
        self._fernet = MultiFernet(fernets)
        self._key_count = len(fernets)
        self._primary = keys[0].encode("ascii") if isinstance(keys[0], str) else keys[0]

    def __repr__(self) -> str:
        return f"SecretBox(keys={self._key_count})"

    @staticmethod
    def is_encrypted(value: str) -> bool:
        """Whether value is a ciphertext of a SecretBox (rather than plaintext)."""
        return value.startswith(ENCRYPTED_PREFIX)

    def encrypt(self, plaintext: str) -> str:
        """plaintext encrypted with the first key, as `enc:v1:<Fernet token>`."""
        token = self._fernet.encrypt(plaintext.encode("utf-8"))
        return ENCRYPTED_PREFIX + token.decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored value; a value without the prefix is returned unchanged.

        Raises:
            SecretDecryptError: the value carries the prefix but no key opens it.
        """
        if not self.is_encrypted(stored):
            return stored
        try:
            plain = self._fernet.decrypt(stored[len(ENCRYPTED_PREFIX) :].encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise _undecryptable() from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise _undecryptable() from None

    def rotate(self, stored: str) -> str:
        """stored encrypted anew with the first key (plaintext is encrypted)."""
        return self.encrypt(self.decrypt(stored))

    def derive_key(self, purpose: str, length: int = 32) -> bytes:
        """A key for another use (HKDF-SHA256 of the first key), the same on every server that
        holds the same first key: replicas on one database share it without another file.

        Args:
            purpose: what the key is for; different purposes give unrelated keys.
            length: the key's length in bytes.
        """
        kdf = HKDF(
            algorithm=hashes.SHA256(),
            length=length,
            salt=None,
            info=f"sluice:{purpose}".encode(),
        )
        return kdf.derive(self._primary)


def _undecryptable() -> SecretDecryptError:
    return SecretDecryptError(
        "a stored secret cannot be decrypted: it was altered, or encrypted with a key this "
        f"server does not hold (see {SECRET_KEY_ENV} or the data dir's {SECRET_KEY_FILE})"
    )


def without_server_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of environ without the server's secret variables (SERVER_SECRET_VARIABLES), for
    processes that run job code."""
    return {key: value for key, value in environ.items() if key not in SERVER_SECRET_VARIABLES}


def load_secret_box(data_dir: Path, environ: Mapping[str, str] | None = None) -> SecretBox:
    """The server's SecretBox: keys from SLUICE_SECRET_KEY if set, else from the key file.

    The key file `<data_dir>/secret.key` is created (mode 0600) when neither exists.

    Args:
        data_dir: the server's data directory; it must exist.
        environ: the environment to read SLUICE_SECRET_KEY from (default: os.environ).

    Raises:
        SecretKeyError: a key is malformed, or the key file cannot be created or read, or
            group or others may read or write it.
    """
    env = os.environ if environ is None else environ
    configured = env.get(SECRET_KEY_ENV, "").strip()
    if configured:
        keys = [key.strip() for key in configured.split(",")]
        if not all(keys):
            raise SecretKeyError(f"{SECRET_KEY_ENV} has an empty key between its commas")
        try:
            return SecretBox(keys)
        except SecretKeyError as exc:
            raise SecretKeyError(f"{SECRET_KEY_ENV}: {exc.message}") from None
    path = data_dir / SECRET_KEY_FILE
    if not os.path.lexists(path):
        _create_key_file(path)
    keys = _read_key_file(path)
    try:
        return SecretBox(keys)
    except SecretKeyError as exc:
        raise SecretKeyError(
            f"secret key file {path} is damaged ({exc.message}); restore it from a backup: "
            "without it the stored secrets cannot be read"
        ) from None


def _create_key_file(path: Path) -> None:
    # Written whole under a temporary name, then linked into place: a concurrent starter either
    # wins the link or reads the complete key the winner wrote.
    tmp = path.with_name(f".{SECRET_KEY_FILE}-{secrets.token_hex(8)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise SecretKeyError(f"secret key file {path} cannot be created: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            # umask can only narrow the mode os.open was given, but be exact.
            os.fchmod(out.fileno(), 0o600)
            out.write(Fernet.generate_key() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    except OSError as exc:
        raise SecretKeyError(f"secret key file {path} cannot be created: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(path: Path) -> list[str]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SecretKeyError(f"secret key file {path} cannot be read: {exc.strerror}") from None
    try:
        # The checks are on the file opened, not on the name: it cannot be swapped in between.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretKeyError(f"secret key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise SecretKeyError(
                f"secret key file {path} is accessible to group or others (mode {mode:04o}); "
                f"refusing to use it: make it private with `chmod 600 {path}`"
            )
        with os.fdopen(fd, "rb", closefd=False) as source:
            data = source.read()
    except OSError as exc:
        raise SecretKeyError(f"secret key file {path} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SecretKeyError(
            f"secret key file {path} is damaged: it is not text; restore it from a backup"
        ) from None
    keys = [line.strip() for line in text.splitlines() if line.strip()]
    if not keys:
        raise SecretKeyError(
            f"secret key file {path} is empty; restore it from a backup: without it the stored "
            "secrets cannot be read"
        )
    return keys
