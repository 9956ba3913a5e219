"""Key rotation for personal data at rest: re-encrypt every encrypted column under the
first key of PII_ENCRYPTION_KEY and re-compute the keyed hashes under the last one
(`flask --app wsgi pii reencrypt`, docs/operations.md). Batches commit on their own, rows
already current are skipped, so an interrupted run is simply started again."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken
from sqlalchemy import func, select

from ..extensions import db
from ..models import VolunteerProfile
from . import pii


@dataclass
class Progress:
    """Counts of one run (or of a dry run: what it would do)."""

    seen: int = 0
    reencrypted: int = 0
    already_current: int = 0
    rehashed: int = 0
    #: Profiles whose ciphertext no listed key opens (a key was removed too early).
    unreadable: list[int] = field(default_factory=list)
    #: Profiles whose new hash another profile already holds (the same ID number twice).
    conflicts: list[int] = field(default_factory=list)

    def add(self, other: Progress) -> None:
        self.seen += other.seen
        self.reencrypted += other.reencrypted
        self.already_current += other.already_current
        self.rehashed += other.rehashed
        self.unreadable += other.unreadable
        self.conflicts += other.conflicts


def _candidates(after: int):
    return (
        select(VolunteerProfile.user_id)
        .where(VolunteerProfile.user_id > after)
        .where(VolunteerProfile.id_number_encrypted.is_not(None))
        .order_by(VolunteerProfile.user_id)
    )


def count_rows(after: int = 0) -> int:
    """How many profiles hold an encrypted ID number (after the given user id)."""
    return db.session.scalar(select(func.count()).select_from(_candidates(after).subquery()))


def next_batch(size: int, after: int) -> list[int]:
    """The next `size` user ids, in id order after `after`, of profiles with an ID number."""
    return list(db.session.scalars(_candidates(after).limit(size)))


def identity_hash(profile: VolunteerProfile, number: str) -> str:
    """The uniqueness hash of a profile's ID, as services/volunteers.set_identity makes it."""
    return pii.keyed_hash(f"{profile.id_type.value}:{number}")


def rotate_batch(user_ids: list[int], *, rehash: bool) -> Progress:
    """Re-encrypt (and with `rehash`, re-hash) these profiles; flushes, never commits."""
    progress = Progress()
    profiles = db.session.scalars(
        select(VolunteerProfile).where(VolunteerProfile.user_id.in_(user_ids))
    ).all()
    for profile in profiles:
        progress.seen += 1
        token = profile.id_number_encrypted
        try:
            number = pii.decrypt(token)
        except InvalidToken:
            progress.unreadable.append(profile.user_id)
            continue
        if pii.is_current(token):
            progress.already_current += 1
        else:
            profile.id_number_encrypted = pii.rotate(token)
            progress.reencrypted += 1
        if rehash and profile.id_type is not None:
            wanted = identity_hash(profile, number)
            if profile.id_hash != wanted:
                holder = db.session.scalar(
                    select(VolunteerProfile.user_id).where(
                        VolunteerProfile.id_hash == wanted,
                        VolunteerProfile.user_id != profile.user_id,
                    )
                )
                if holder is not None:
                    progress.conflicts.append(profile.user_id)
                else:
                    profile.id_hash = wanted
                    progress.rehashed += 1
                    db.session.flush()
    db.session.flush()
    return progress
