"""Field encryption (AES-256-GCM) and keyed hashes (HMAC-SHA-256) for personal data at rest."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"


def _derive(root: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"flexreg/" + purpose).derive(root)


class FieldCipher:
    """Encrypts one field value at a time; the associated data binds a ciphertext to its column."""

    def __init__(self, root_key: bytes) -> None:
        self._aead = AESGCM(_derive(root_key, b"field-encryption"))
        self._hmac_key = _derive(root_key, b"lookup-hmac")

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, ciphertext: bytes, *, context: str) -> str:
        if ciphertext[:1] != _VERSION:
            raise ValueError("unknown ciphertext version")
        nonce, sealed = ciphertext[1:13], ciphertext[13:]
        return self._aead.decrypt(nonce, sealed, context.encode()).decode()

    def lookup_hash(self, normalised: str, *, context: str) -> bytes:
        """A keyed hash for uniqueness and lookups; a plain hash of an ID number is brute-forceable."""
        return hmac.new(self._hmac_key, f"{context}:{normalised}".encode(), hashlib.sha256).digest()
