"""Org trees: area (区→镇街→社区村), party (区委→党委→党总支→党支部), organiser."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class OrgKind(enum.StrEnum):
    AREA = "area"
    PARTY = "party"
    ORGANISER = "organiser"


class OrgLevel(enum.StrEnum):
    """What a node is within its tree; decides labels and what may sit below it."""

    DISTRICT = "district"  # 区
    TOWN = "town"  # 镇 / 街道
    COMMUNITY = "community"  # 社区 / 村
    PARTY_ROOT = "party_root"  # 区委
    PARTY_COMMITTEE = "party_committee"  # 党(工)委
    PARTY_GENERAL_BRANCH = "party_general_branch"  # 党总支
    PARTY_BRANCH = "party_branch"  # 党支部
    ORGANISER = "organiser"  # 团区委, 区妇联, 文明办, 新时代文明实践所
    PRACTICE_STATION = "practice_station"  # 新时代文明实践站
    TEAM = "team"  # 志愿服务队


#: Which levels a node of each level may have as children.
CHILD_LEVELS: dict[OrgLevel, tuple[OrgLevel, ...]] = {
    OrgLevel.DISTRICT: (OrgLevel.TOWN, OrgLevel.PARTY_ROOT, OrgLevel.ORGANISER),
    OrgLevel.TOWN: (OrgLevel.COMMUNITY,),
    OrgLevel.COMMUNITY: (),
    OrgLevel.PARTY_ROOT: (OrgLevel.PARTY_COMMITTEE,),
    OrgLevel.PARTY_COMMITTEE: (OrgLevel.PARTY_GENERAL_BRANCH, OrgLevel.PARTY_BRANCH),
    OrgLevel.PARTY_GENERAL_BRANCH: (OrgLevel.PARTY_BRANCH,),
    OrgLevel.PARTY_BRANCH: (),
    OrgLevel.ORGANISER: (OrgLevel.PRACTICE_STATION, OrgLevel.TEAM, OrgLevel.ORGANISER),
    OrgLevel.PRACTICE_STATION: (OrgLevel.TEAM,),
    OrgLevel.TEAM: (),
}

LEVEL_KIND: dict[OrgLevel, OrgKind] = {
    OrgLevel.DISTRICT: OrgKind.AREA,
    OrgLevel.TOWN: OrgKind.AREA,
    OrgLevel.COMMUNITY: OrgKind.AREA,
    OrgLevel.PARTY_ROOT: OrgKind.PARTY,
    OrgLevel.PARTY_COMMITTEE: OrgKind.PARTY,
    OrgLevel.PARTY_GENERAL_BRANCH: OrgKind.PARTY,
    OrgLevel.PARTY_BRANCH: OrgKind.PARTY,
    OrgLevel.ORGANISER: OrgKind.ORGANISER,
    OrgLevel.PRACTICE_STATION: OrgKind.ORGANISER,
    OrgLevel.TEAM: OrgKind.ORGANISER,
}


class OrgUnit(db.Model):
    """A node of one of the org trees; a role granted on it holds for its subtree."""

    __tablename__ = "org_units"
    __table_args__ = (Index("ix_org_units_path", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(
        Enum(OrgKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    level: Mapped[OrgLevel] = mapped_column(
        Enum(OrgLevel, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    #: Materialised path of ids, "/1/5/23/": a subtree is `path LIKE '/1/5/%'`.
    #: Kept by services.orgs on create and move; never set by hand.
    path: Mapped[str] = mapped_column(String(500), default="")
    depth: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(
        back_populates="parent", order_by="OrgUnit.sort_order, OrgUnit.id"
    )

    def is_within(self, other: OrgUnit) -> bool:
        """True when this node is `other` or lies in its subtree."""
        return self.path.startswith(other.path)

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def __repr__(self) -> str:
        return f"<OrgUnit {self.id} {self.level.value} {self.name}>"
