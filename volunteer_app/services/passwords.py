"""Password hashing (Argon2id, memory-hard) and the complexity rule."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

_hasher = PasswordHasher()  # argon2id, 64 MiB, t=3: the library's current defaults


def configure_hasher(time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Set the Argon2id cost (the test configuration lowers it to keep the suite quick)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


MIN_LENGTH = 8
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    """An Argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


#: Verified against when a phone number has no account, so that the answer takes
#: as long as for a registered number (no timing oracle for enumeration).
def dummy_verify(password: str) -> None:
    """Spend the time a real verification takes."""
    verify_password(_dummy_hash(), password)


_DUMMY: dict[str, str] = {}


def _dummy_hash() -> str:
    key = repr(_hasher)
    if key not in _DUMMY:
        _DUMMY[key] = _hasher.hash("not-a-real-password-0")
    return _DUMMY[key]


def password_problems(password: str) -> list[str]:
    """Every way the password breaks the rule (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(str(_l("Password must be at least %(n)d characters.", n=MIN_LENGTH)))
    if len(password) > MAX_LENGTH:
        problems.append(str(_l("Password must be at most %(n)d characters.", n=MAX_LENGTH)))
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        problems.append(str(_l("Password must contain both letters and digits.")))
    return problems
