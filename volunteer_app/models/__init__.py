"""Every model module is imported here so Alembic autogenerate sees all tables."""

from .attendance import Attendance, ScanLog, ScanMethod, VolunteerCard
from .audit import AuditLog
from .events import (
    PLACE_STATUSES,
    Event,
    EventStatus,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    Visibility,
)
from .notify import Channel, CodePurpose, Notification, SmsCode
from .orgs import CHILD_LEVELS, LEVEL_KIND, OrgKind, OrgLevel, OrgUnit
from .people import STAFF_ROLES, LoginThrottle, Role, RoleGrant, User
from .volunteers import (
    AffiliationHistory,
    Gender,
    IdType,
    MembershipStatus,
    PoliticalStatus,
    TeamMembership,
    VolunteerProfile,
)

__all__ = [
    "CHILD_LEVELS",
    "LEVEL_KIND",
    "PLACE_STATUSES",
    "STAFF_ROLES",
    "AffiliationHistory",
    "Attendance",
    "AuditLog",
    "Channel",
    "CodePurpose",
    "Event",
    "EventStatus",
    "Gender",
    "IdType",
    "LoginThrottle",
    "MembershipStatus",
    "Notification",
    "OrgKind",
    "OrgLevel",
    "OrgUnit",
    "PoliticalStatus",
    "Role",
    "RoleGrant",
    "ScanLog",
    "ScanMethod",
    "Shift",
    "ShiftLead",
    "Signup",
    "SignupStatus",
    "SmsCode",
    "TeamMembership",
    "User",
    "Visibility",
    "VolunteerCard",
    "VolunteerProfile",
]
