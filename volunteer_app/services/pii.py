"""Personal data at rest: Fernet encryption and a keyed hash for uniqueness."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def _keys() -> list[str]:
    raw = current_app.config.get("PII_ENCRYPTION_KEY") or ""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise RuntimeError("PII_ENCRYPTION_KEY is not configured")
    return keys


def _fernet() -> MultiFernet:
    # The first key encrypts; every listed key decrypts (key rotation, docs/operations.md).
    return MultiFernet([Fernet(k) for k in _keys()])


def encrypt(value: str) -> str:
    """Ciphertext (urlsafe text) of the value."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The clear value of a ciphertext made by encrypt()."""
    return _fernet().decrypt(token.encode()).decode()


def keyed_hash(value: str, purpose: str = "id") -> str:
    """HMAC-SHA256 of the value under a key derived from the last listed data key, so
    that adding a new encryption key in front does not change existing hashes."""
    base = base64.urlsafe_b64decode(_keys()[-1])
    key = hmac.new(base, f"volunteer-app/{purpose}".encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
