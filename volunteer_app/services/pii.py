"""Personal data at rest: Fernet encryption and a keyed hash for uniqueness."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _keys() -> list[str]:
    return list(_parsed(current_app.config.get("PII_ENCRYPTION_KEY") or ""))


@lru_cache(maxsize=8)
def _parsed(raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise RuntimeError("PII_ENCRYPTION_KEY is not configured")
    return keys


def _fernet() -> MultiFernet:
    # The first key encrypts; every listed key decrypts (key rotation, docs/operations.md).
    return _fernet_of(current_app.config.get("PII_ENCRYPTION_KEY") or "")


@lru_cache(maxsize=8)
def _fernet_of(raw: str) -> MultiFernet:
    """Built once per configured key list (the keys are parsed and checked once)."""
    return MultiFernet([Fernet(k) for k in _parsed(raw)])


@lru_cache(maxsize=32)
def _hash_key(last_key: str, purpose: str) -> bytes:
    base = base64.urlsafe_b64decode(last_key)
    return hmac.new(base, f"volunteer-app/{purpose}".encode(), hashlib.sha256).digest()


def encrypt(value: str) -> str:
    """Ciphertext (urlsafe text) of the value."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The clear value of a ciphertext made by encrypt()."""
    return _fernet().decrypt(token.encode()).decode()


def keyed_hash(value: str, purpose: str = "id") -> str:
    """HMAC-SHA256 of the value under a key derived from the last listed data key, so
    that adding a new encryption key in front does not change existing hashes."""
    key = _hash_key(_keys()[-1], purpose)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def rotate(token: str) -> str:
    """The ciphertext re-encrypted under the first key (read with any listed key)."""
    return _fernet().rotate(token.encode()).decode()


def is_current(token: str) -> bool:
    """Whether the ciphertext was made with the first (current) key."""
    try:
        _first_fernet(_keys()[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


@lru_cache(maxsize=8)
def _first_fernet(key: str) -> Fernet:
    return Fernet(key)
