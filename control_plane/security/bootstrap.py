"""The operator's first credential: at the first start, an `admin` principal and its token.

The token is written to `<data dir>/admin-token`, readable by the server's user only (mode 0600,
set when the file is created, so it is never readable by others even for an instant). It is
never logged. The file is opened before the principal is created, so a token is never made that
no one can read; if creating the principal fails, the file is removed again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sluice.common.errors import AlreadyExists, FailedPrecondition
from sluice.control_plane.security.identity_store import IdentityStore
from sluice.control_plane.security.model import PrincipalInput
from sluice.control_plane.security.policy import ADMIN_ROLE
from sluice.control_plane.security.tokens import given_token

ADMIN_NAME = "admin"
ADMIN_TOKEN_FILE = "admin-token"
FILE_MODE = 0o600

_log = logging.getLogger(__name__)


def bootstrap_operator(
    store: IdentityStore, data_dir: Path, account: str, token: str | None = None
) -> Path | None:
    """Creates the operator principal `admin` and its token when no operator exists.

    Args:
        store: The identity store.
        data_dir: The server's data dir; the token goes to its `admin-token` file.
        account: The account the operator principal belongs to (the server's default).
        token: The operator's token, when the deployment chooses it (SLUICE_BOOTSTRAP_TOKEN);
            a new random one otherwise.

    Returns:
        The path of the token file when the operator was created now; None when an operator
        already existed (or another server sharing the database made one at the same time).

    Raises:
        FailedPrecondition: The account has a principal called admin that is not an operator.
        OSError: The token file cannot be written.
    """
    if store.has_operator():
        return None
    chosen = given_token(token) if token else None
    path = data_dir / ADMIN_TOKEN_FILE
    fd = _create_private(path)
    try:
        issued = store.create_principal_with_token(
            account,
            PrincipalInput(
                name=ADMIN_NAME,
                roles=(ADMIN_ROLE,),
                description="The server operator, made at the first start",
                operator=True,
            ),
            token_description="Made at the first start",
            expires_on=None,
            token=chosen,
        )
    except AlreadyExists:
        os.close(fd)
        path.unlink(missing_ok=True)
        if store.has_operator():
            return None
        raise FailedPrecondition(
            f"account {account} has a principal {ADMIN_NAME} that is not an operator: "
            "no operator principal can be made"
        ) from None
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    try:
        os.write(fd, f"{issued.token}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _create_private(path: Path) -> int:
    """A new file only the owner can read and write, open for writing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:
        # Left by a server whose database has since been replaced: its token is useless now.
        _log.warning("replacing %s: no operator principal holds its token", path)
        path.unlink()
        fd = os.open(path, flags, FILE_MODE)
    # The umask can only take permissions away, but make the mode exact all the same.
    os.fchmod(fd, FILE_MODE)
    return fd
