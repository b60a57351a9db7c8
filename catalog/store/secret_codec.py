"""How the SQL catalog store protects secret connection properties at rest.

The store encrypts a property when sluice.common.redaction.is_secret_key names its key, and decrypts
it when reading. common.secrets.SecretBox is the implementation the server uses.
"""

from __future__ import annotations

from typing import Protocol


class SecretCodec(Protocol):
    """Encrypts secret values for storage and decrypts them back."""

    def encrypt(self, plaintext: str) -> str:
        """The stored form of plaintext; a new ciphertext on each call."""
        ...

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored value. A value stored before encryption was turned on
        (plaintext) comes back unchanged; a ciphertext no key opens raises a SluiceError."""
        ...
