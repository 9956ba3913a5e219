"""One person, one account: finding accounts that belong to one person (their ID numbers or
phone numbers are the same once normalised — older code stored some spellings apart), and
storing old spellings in their normal form. Merging two of them is services/account_merge.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import (
    User,
    VolunteerProfile,
)
from . import identifiers, idnumbers, pii


@dataclass
class Account:
    """One account of a duplicate group, as an administrator needs to choose."""

    user_id: int
    masked_phone: str
    name: str
    created_at: datetime
    last_login_at: datetime | None
    #: The stored value is not in its normal form (written by older code).
    stored_unnormalised: bool


@dataclass
class Group:
    kind: str  # "id" | "phone"
    #: The shared identifier, masked.
    label: str
    accounts: list[Account] = field(default_factory=list)


def _account(user: User, name: str | None, unnormalised: bool) -> Account:
    return Account(
        user.id,
        user.masked_phone,
        name or user.display_name or "",
        user.created_at,
        user.last_login_at,
        unnormalised,
    )


def find() -> list[Group]:
    """Accounts (not closed) whose ID numbers — decrypted and normalised again, since the
    stored hash of an old spelling differs — or whose phone numbers, normalised, are the
    same. Each group lists its accounts oldest first."""
    by_id: dict[tuple[str, str], list[tuple[User, str | None, bool]]] = defaultdict(list)
    rows = db.session.execute(
        select(User, VolunteerProfile.real_name, VolunteerProfile.id_type)
        .add_columns(VolunteerProfile.id_number_encrypted)
        .join(VolunteerProfile, VolunteerProfile.user_id == User.id)
        .where(User.deleted_at.is_(None), VolunteerProfile.id_number_encrypted.is_not(None))
        .execution_options(yield_per=2000)
    )
    for user, name, id_type, encrypted in rows:
        stored = pii.decrypt(encrypted)
        normal = idnumbers.normalise(stored)
        by_id[(str(id_type), normal)].append((user, name, normal != stored))
    by_phone: dict[str, list[tuple[User, str | None, bool]]] = defaultdict(list)
    for user, name in db.session.execute(
        select(User, VolunteerProfile.real_name)
        .outerjoin(VolunteerProfile, VolunteerProfile.user_id == User.id)
        .where(User.deleted_at.is_(None))
        .execution_options(yield_per=2000)
    ):
        normal = identifiers.phone(user.phone)
        by_phone[normal].append((user, name, normal != user.phone))
    groups = []
    for (_type, number), members in sorted(by_id.items()):
        if len(members) > 1:
            groups.append(Group("id", idnumbers.mask(number), _sorted(members)))
    for number, members in sorted(by_phone.items()):
        if len(members) > 1:
            groups.append(Group("phone", f"{number[:3]}****{number[-4:]}", _sorted(members)))
    return groups


def _sorted(members: list[tuple[User, str | None, bool]]) -> list[Account]:
    return [_account(u, n, x) for u, n, x in sorted(members, key=lambda m: m[0].id)]


def same_person(keep: User, close: User) -> bool:
    """True when the two accounts share a normalised ID number or phone number."""
    if identifiers.phone(keep.phone) == identifiers.phone(close.phone):
        return True
    numbers = []
    for user in (keep, close):
        profile = db.session.get(VolunteerProfile, user.id)
        if profile is None or not profile.id_number_encrypted:
            return False
        numbers.append(
            (profile.id_type, idnumbers.normalise(pii.decrypt(profile.id_number_encrypted)))
        )
    return numbers[0] == numbers[1]


def normalise_stored() -> tuple[int, int]:
    """Store every ID number in its normal form (and its hash with it) where no other
    account holds that number; returns (rewritten, left because taken)."""
    rewritten = left = 0
    hashes = set(
        db.session.scalars(
            select(VolunteerProfile.id_hash).where(VolunteerProfile.id_hash.is_not(None))
        )
    )
    for profile in db.session.scalars(
        select(VolunteerProfile).where(VolunteerProfile.id_number_encrypted.is_not(None))
    ).all():
        if profile.id_type is None:
            continue
        stored = pii.decrypt(profile.id_number_encrypted)
        normal = idnumbers.normalise(stored)
        wanted = pii.keyed_hash(f"{profile.id_type.value}:{normal}")
        if normal == stored and wanted == profile.id_hash:
            continue
        if wanted != profile.id_hash and wanted in hashes:
            left += 1
            continue
        hashes.discard(profile.id_hash)
        hashes.add(wanted)
        profile.id_number_encrypted = pii.encrypt(normal)
        profile.id_masked = idnumbers.mask(normal)
        profile.id_hash = wanted
        rewritten += 1
    db.session.flush()
    return rewritten, left
