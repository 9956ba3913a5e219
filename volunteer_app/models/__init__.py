"""Every model module is imported here so Alembic autogenerate sees all tables."""

from .attendance import Attendance, CodeUse, DeviceKey, ScanLog, ScanMethod, VolunteerCard
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
from .exchange import CertificateIssue, ExchangeBatch, ExchangeEntry, ExternalRecord
from .hours import (
    CorrectionRequest,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    TallyCell,
    TallyPerson,
    TallyRegistration,
    TallyServed,
    TrainingRecord,
)
from .jobs import JobRun, SchedulerLock
from .notify import Channel, CodePurpose, DeliveryStatus, Notification, SmsCode
from .orgs import CHILD_LEVELS, LEVEL_KIND, OrgKind, OrgLevel, OrgUnit
from .people import STAFF_ROLES, LoginThrottle, Role, RoleGrant, User
from .tempstate import TempItem
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
    "CertificateIssue",
    "Channel",
    "CodePurpose",
    "CodeUse",
    "CorrectionRequest",
    "DeliveryStatus",
    "DeviceKey",
    "Event",
    "EventStatus",
    "ExchangeBatch",
    "ExchangeEntry",
    "ExternalRecord",
    "Gender",
    "IdType",
    "JobRun",
    "LoginThrottle",
    "MembershipStatus",
    "Notification",
    "OrgKind",
    "OrgLevel",
    "OrgUnit",
    "PoliticalStatus",
    "RecordKind",
    "RecordStatus",
    "Role",
    "RoleGrant",
    "ScanLog",
    "ScanMethod",
    "SchedulerLock",
    "ServiceRecord",
    "Shift",
    "ShiftLead",
    "Signup",
    "SignupStatus",
    "SmsCode",
    "TallyCell",
    "TallyPerson",
    "TallyRegistration",
    "TallyServed",
    "TeamMembership",
    "TempItem",
    "TrainingRecord",
    "User",
    "Visibility",
    "VolunteerCard",
    "VolunteerProfile",
]
