"""Printed volunteer cards for a community's residents without a smartphone (A4 sheets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from ..extensions import db
from ..models import OrgUnit, User, VolunteerCard, VolunteerProfile
from . import audit
from .volunteer_search import scope_condition

#: Cards on one A4 sheet (2 columns × 4 rows, each about 85 × 54 mm: a bank card).
PER_SHEET = 8


@dataclass
class Holder:
    profile: VolunteerProfile
    card: VolunteerCard | None


def community_holders(
    actor: User, node: OrgUnit, *, today: date, min_age: int | None = None
) -> list[Holder]:
    """The volunteers living in the node's subtree (within the actor's scope), oldest first,
    each with their current card (None when they have none)."""
    profiles = db.session.scalars(
        select(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .join(OrgUnit, OrgUnit.id == VolunteerProfile.community_id)
        .where(
            User.deleted_at.is_(None),
            User.active.is_(True),
            OrgUnit.path.like(node.path + "%"),
            scope_condition(actor),
        )
        .order_by(VolunteerProfile.birth_date, VolunteerProfile.user_id)
    ).all()
    if min_age is not None:
        profiles = [p for p in profiles if (p.age_on(today) or 0) >= min_age]
    cards = {
        card.user_id: card
        for card in db.session.scalars(
            select(VolunteerCard).where(
                VolunteerCard.user_id.in_([p.user_id for p in profiles]),
                VolunteerCard.revoked_at.is_(None),
            )
        )
    }
    return [Holder(p, cards.get(p.user_id)) for p in profiles]


def issue_missing(
    actor: User, holders: list[Holder], *, now: datetime, ip: str | None = None
) -> int:
    """A card for each of these volunteers who has none (existing cards stay valid)."""
    issued = 0
    for holder in holders:
        if holder.card is not None:
            continue
        holder.card = VolunteerCard(
            user_id=holder.profile.user_id, issued_by_id=actor.id, issued_at=now
        )
        db.session.add(holder.card)
        issued += 1
    db.session.flush()
    if issued:
        audit.record("card.issue_batch", actor=actor, ip=ip, count=issued)
    return issued
