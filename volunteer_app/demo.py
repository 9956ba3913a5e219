"""Demo data: 即墨区's org trees and one login per role (`flask seed demo`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from . import demo_data as data
from .catalog import AVAILABILITY, CATEGORIES, SKILLS
from .extensions import db
from .models import (
    AffiliationHistory,
    Attendance,
    Event,
    EventStatus,
    Gender,
    IdType,
    MembershipStatus,
    OrgLevel,
    OrgUnit,
    PoliticalStatus,
    RecordKind,
    RecordStatus,
    Role,
    RoleGrant,
    ScanMethod,
    ServiceRecord,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    TeamMembership,
    User,
    VolunteerProfile,
)
from .services import orgs, pii
from .services.events import refresh_times
from .services.idnumbers import make_resident_number, mask
from .services.passwords import hash_password
from .services.volunteers import PRIVACY_VERSION
from .timeutil import from_local, to_local, utcnow


@dataclass(frozen=True)
class DemoAccount:
    phone: str
    name: str
    role: Role | None
    #: Names from the root down to the node the role is granted on.
    node_path: tuple[str, ...]
    label: str
    #: Further roles on the same node.
    extra_roles: tuple[Role, ...] = ()


_JIMO = (data.DISTRICT,)
DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("13800000001", "区文明办管理员", Role.ADMIN, _JIMO, "admin"),
    DemoAccount(
        "13800000002",
        "团区委组织者",
        Role.ORGANISER,
        (*_JIMO, "共青团即墨区委员会"),
        "organiser (Youth League)",
    ),
    DemoAccount(
        "13800000003",
        "区妇联组织者",
        Role.ORGANISER,
        (*_JIMO, "即墨区妇女联合会"),
        "organiser (Women's Federation)",
    ),
    DemoAccount(
        "13800000008",
        "区总工会组织者",
        Role.ORGANISER,
        (*_JIMO, "即墨区总工会"),
        "organiser (Trade union)",
    ),
    DemoAccount(
        "13800000004",
        "环秀街道组织者",
        Role.ORGANISER,
        (*_JIMO, "环秀街道"),
        "organiser (town)",
        (Role.RECORDER,),
    ),
    DemoAccount(
        "13800000005",
        "东关社区领队",
        Role.LEAD,
        (*_JIMO, "环秀街道", "东关社区"),
        "lead",
    ),
    DemoAccount(
        "13800000006",
        "东关社区党支部书记",
        Role.BRANCH_SECRETARY,
        (*_JIMO, data.PARTY_ROOT, "中共环秀街道工作委员会", "环秀街道社区党总支", "东关社区党支部"),
        "branch secretary",
    ),
    DemoAccount("13800000007", "志愿者小王", None, (), "volunteer"),
]


def _child(parent: OrgUnit | None, name: str, level: OrgLevel, order: int) -> OrgUnit:
    existing = db.session.scalar(
        select(OrgUnit).where(
            OrgUnit.parent_id.is_(None) if parent is None else OrgUnit.parent_id == parent.id,
            OrgUnit.name == name,
        )
    )
    if existing is not None:
        return existing
    return orgs.create_node(name, level, parent, sort_order=order)


def seed_org_trees() -> OrgUnit:
    """The three trees under one district root; existing nodes are kept."""
    district = _child(None, data.DISTRICT, OrgLevel.DISTRICT, 0)
    for i, (town, _kind, communities) in enumerate(data.TOWNS):
        town_node = _child(district, town, OrgLevel.TOWN, i)
        for j, community in enumerate(communities):
            _child(town_node, community, OrgLevel.COMMUNITY, j)
    party_root = _child(district, data.PARTY_ROOT, OrgLevel.PARTY_ROOT, 100)
    for i, (committee, generals) in enumerate(data.PARTY_COMMITTEES):
        committee_node = _child(party_root, committee, OrgLevel.PARTY_COMMITTEE, i)
        for j, (general, branches) in enumerate(generals):
            general_node = _child(committee_node, general, OrgLevel.PARTY_GENERAL_BRANCH, j)
            for k, branch in enumerate(branches):
                _child(general_node, branch, OrgLevel.PARTY_BRANCH, k)
    for i, (organiser, children) in enumerate(data.ORGANISERS):
        organiser_node = _child(district, organiser, OrgLevel.ORGANISER, 200 + i)
        for j, child in enumerate(children):
            level = OrgLevel.PRACTICE_STATION if child.endswith("实践站") else OrgLevel.TEAM
            _child(organiser_node, child, level, j)
    return district


def find_node(names: tuple[str, ...]) -> OrgUnit | None:
    """The node reached by following names from the root."""
    node = None
    for name in names:
        node = db.session.scalar(
            select(OrgUnit).where(
                OrgUnit.parent_id.is_(None) if node is None else OrgUnit.parent_id == node.id,
                OrgUnit.name == name,
            )
        )
        if node is None:
            return None
    return node


def seed_accounts(password: str) -> list[DemoAccount]:
    """One login per role; an existing account keeps its password."""
    password_hash = hash_password(password)
    for account in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.phone == account.phone))
        if user is None:
            user = User(phone=account.phone, password_hash=password_hash, display_name=account.name)
            db.session.add(user)
            db.session.flush()
        if account.role is None:
            continue
        node = find_node(account.node_path)
        if node is None:
            raise RuntimeError(f"demo node missing: {'/'.join(account.node_path)}")
        for role in (account.role, *account.extra_roles):
            has = db.session.scalar(
                select(RoleGrant).where(
                    RoleGrant.user_id == user.id,
                    RoleGrant.org_unit_id == node.id,
                    RoleGrant.role == role,
                )
            )
            if has is None:
                db.session.add(RoleGrant(user_id=user.id, org_unit_id=node.id, role=role))
    db.session.flush()
    return DEMO_ACCOUNTS


DEMO_VOLUNTEERS = 300
_REGION = "370282"  # 即墨区's administrative division code


def _complete_profile(
    user: User,
    rng: random.Random,
    community: OrgUnit,
    branch: OrgUnit | None,
    status: PoliticalStatus,
    born: date,
    male: bool,
    serial: int,
    now: datetime,
    *,
    consent: bool = True,
) -> VolunteerProfile:
    number = make_resident_number(_REGION, born, serial, male)
    profile = VolunteerProfile(
        user_id=user.id,
        real_name=user.display_name,
        id_type=IdType.RESIDENT,
        id_number_encrypted=pii.encrypt(number),
        id_hash=pii.keyed_hash(f"resident:{number}"),
        id_masked=mask(number),
        gender=Gender.MALE if male else Gender.FEMALE,
        birth_date=born,
        community_id=community.id,
        political_status=status,
        branch_id=branch.id if branch else None,
        skills=rng.sample(list(SKILLS), rng.choice([0, 1, 1, 2, 3])),
        service_categories=rng.sample(list(CATEGORIES)[:8], rng.choice([1, 2, 3])),
        availability=rng.sample(list(AVAILABILITY), rng.choice([1, 2])),
        emergency_name=rng.choice(data.SURNAMES) + rng.choice(data.GIVEN_CHARS),
        emergency_phone=f"159{serial:08d}",
    )
    if consent:
        profile.privacy_version = PRIVACY_VERSION
        profile.consented_at = profile.sensitive_consented_at = now
        if now.year - born.year < 18:
            profile.guardian_name = (
                user.display_name[0] + rng.choice(data.GIVEN_CHARS) + "（监护人）"
            )
            profile.guardian_phone = f"158{serial:08d}"
            profile.guardian_consented_at = now
    db.session.add(profile)
    db.session.add(
        AffiliationHistory(
            user_id=user.id, community_id=community.id, branch_id=profile.branch_id, valid_from=now
        )
    )
    return profile


def seed_volunteers(password: str, count: int = DEMO_VOLUNTEERS) -> int:
    """About 300 volunteers with valid ID numbers across the communities: Party members
    (some with branches in another town: 双报到), League members, minors, team members."""
    rng = random.Random(2026)
    now = utcnow()
    password_hash = hash_password(password)
    communities = db.session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.COMMUNITY).order_by(OrgUnit.id)
    ).all()
    branches = db.session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.PARTY_BRANCH).order_by(OrgUnit.id)
    ).all()
    branch_by_name = {b.name: b for b in branches}
    teams = db.session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.TEAM).order_by(OrgUnit.id)
    ).all()
    existing = set(db.session.scalars(select(User.phone).where(User.phone.like("150%"))))
    made = 0
    for i in range(count):
        phone = f"150{i:08d}"
        # Draw every value even for existing rows, so reruns stay deterministic.
        male = rng.random() < 0.48
        kind = rng.random()
        if kind < 0.06:  # minors 12-17
            born = date(now.year - rng.randint(12, 17), rng.randint(1, 12), rng.randint(1, 28))
        else:
            born = date(now.year - rng.randint(18, 75), rng.randint(1, 12), rng.randint(1, 28))
        community = rng.choice(communities)
        roll = rng.random()
        age = now.year - born.year
        if age >= 18 and roll < 0.28:
            status = PoliticalStatus.CPC_MEMBER if roll < 0.25 else PoliticalStatus.CPC_PROBATIONARY
            local = branch_by_name.get(community.name + "党支部")
            # About a third serve in a workplace branch elsewhere (双报到).
            branch = local if local and rng.random() < 0.65 else rng.choice(branches)
        elif age < 28 and roll < 0.55:
            status, branch = PoliticalStatus.CYL_MEMBER, None
        elif roll < 0.6:
            status = rng.choice(
                [
                    PoliticalStatus.NON_PARTISAN,
                    PoliticalStatus.CDL,
                    PoliticalStatus.JIUSAN,
                    PoliticalStatus.CAPD,
                ]
            )
            branch = None
        else:
            status, branch = PoliticalStatus.MASSES, None
        name = rng.choice(data.SURNAMES) + "".join(
            rng.choice(data.GIVEN_CHARS) for _ in range(rng.choice([1, 2, 2]))
        )
        team = rng.choice(teams) if teams and rng.random() < 0.2 else None
        consent = rng.random() > 0.05  # a few stopped before consenting
        if phone in existing:
            continue
        user = User(
            phone=phone, password_hash=password_hash, display_name=name, phone_verified_at=now
        )
        db.session.add(user)
        db.session.flush()
        _complete_profile(
            user, rng, community, branch, status, born, male, 1000 + i, now, consent=consent
        )
        if team is not None:
            db.session.add(
                TeamMembership(
                    user_id=user.id,
                    team_id=team.id,
                    status=MembershipStatus.APPROVED
                    if rng.random() < 0.8
                    else MembershipStatus.PENDING,
                    decided_at=now,
                )
            )
        made += 1
    db.session.flush()
    return made


def seed_demo_volunteer_profile() -> None:
    """志愿者小王 (13800000007) has a complete profile in 东关社区, ready to sign up."""
    user = db.session.scalar(select(User).where(User.phone == "13800000007"))
    if user is None or db.session.get(VolunteerProfile, user.id) is not None:
        return
    community = find_node((data.DISTRICT, "环秀街道", "东关社区"))
    assert community is not None
    _complete_profile(
        user,
        random.Random(7),
        community,
        None,
        PoliticalStatus.CYL_MEMBER,
        date(1998, 5, 4),
        True,
        7,
        utcnow(),
    )
    user.display_name = "王小明"
    db.session.get(VolunteerProfile, user.id).real_name = "王小明"


EVENT_TITLES: dict[str, list[str]] = {
    "env_sanitation": ["背街小巷环境清洁", "社区卫生死角清理", "河道沿岸垃圾捡拾"],
    "streets": ["道路街巷乱堆乱放整治", "老旧小区楼道清理"],
    "business_order": ["沿街商铺门前三包劝导", "农贸市场秩序维护"],
    "traffic_order": ["文明交通劝导岗", "校园周边护学岗", "路口文明引导"],
    "outdoor_ads": ["小广告清理行动", "违规广告牌排查"],
    "residential": ["居住小区环境整治", "小区车辆有序停放引导"],
    "window_service": ["政务服务大厅引导", "火车站志愿服务岗"],
    "health_city": ["卫生城市复审入户宣传", "病媒生物防制宣传"],
    "party_community": ["党群同心·共建家园 主题党日", "在职党员进社区"],
    "other": ["关爱空巢老人", "敬老院慰问演出"],
}
DEMO_EVENTS = 40
#: (post, local start hour, hours) of the shifts an event gets, by how many it has.
SHIFT_PATTERNS = [
    [("早班", 8, 3)],
    [("早高峰岗", 7, 2), ("晚高峰岗", 17, 2)],
    [("上午组", 8, 3), ("下午组", 14, 3), ("收尾组", 17, 1)],
]


def seed_events(count: int = DEMO_EVENTS) -> int:
    """About 40 events over the past two months and the next month, across categories and
    towns: full shifts with waitlists, nearly full ones, a cancelled and a draft event; past
    shifts have attended and no-show sign-ups."""
    if db.session.scalar(select(Event.id).limit(1)) is not None:
        return 0
    rng = random.Random(4)
    now = utcnow()
    today = to_local(now).date()
    towns = db.session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.TOWN).order_by(OrgUnit.id)
    ).all()
    hosts = [
        find_node((data.DISTRICT, "共青团即墨区委员会")),
        find_node((data.DISTRICT, "即墨区妇女联合会")),
        find_node((data.DISTRICT, "即墨区文明办")),
    ]
    profiles = db.session.scalars(
        select(VolunteerProfile)
        .where(VolunteerProfile.consented_at.is_not(None))
        .order_by(VolunteerProfile.user_id)
    ).all()
    demo_user = db.session.scalar(select(User).where(User.phone == "13800000007"))
    lead = db.session.scalar(select(User).where(User.phone == "13800000005"))
    organiser = db.session.scalar(select(User).where(User.phone == "13800000001"))
    categories = list(EVENT_TITLES)
    made = 0
    for i in range(count):
        day_offset = -60 + int(90 * i / count) + rng.randint(0, 2)
        day = today + timedelta(days=day_offset)
        category = categories[i % len(categories)]
        town = towns[0] if i % 4 == 0 else rng.choice(towns)
        community = rng.choice(town.children) if town.children else None
        host = town if i % 3 else rng.choice([h for h in hosts if h] or [town])
        if i == 5:  # one event for the demo town organiser's own 东关社区
            community = find_node((data.DISTRICT, "环秀街道", "东关社区")) or community
            town, host = towns[0], towns[0]
        title = rng.choice(EVENT_TITLES[category])
        spot = rng.choice(["广场", "党群服务中心", "主干道路口", "农贸市场", "小学门口"])
        place = f"{community.name if community else town.name}{spot}"
        status = EventStatus.COMPLETED if day < today else EventStatus.PUBLISHED
        if i == count - 3:
            status = EventStatus.CANCELLED
        if i == count - 1:
            status = EventStatus.DRAFT
        event = Event(
            host_id=host.id,
            area_id=(community or town).id,
            title=title,
            category=category,
            address=place,
            description=f"{title}：{town.name}文明创建志愿服务。请穿志愿者马甲，提前十分钟到岗签到。",
            contact_name="王老师",
            contact_phone="0532-8851" + f"{1000 + i}",
            status=status,
            created_by_id=organiser.id if organiser else None,
            adults_only=category in ("traffic_order",),
            dangerous=category == "outdoor_ads",
            party_only=category == "party_community" and i % 2 == 0,
            cancel_reason="天气原因（大风预警）" if status is EventStatus.CANCELLED else None,
        )
        db.session.add(event)
        pattern = SHIFT_PATTERNS[i % len(SHIFT_PATTERNS)]
        for post, hour, hours in pattern:
            start = from_local(datetime.combine(day, time(hour)))
            capacity = rng.choice([5, 8, 10, 12, 20])
            shift = Shift(
                event=event,
                post=post,
                duties="文明劝导、环境清洁，听从站点负责人安排。",
                starts_at=start,
                ends_at=start + timedelta(hours=hours),
                capacity=capacity,
                taken=0,
                waitlisted=0,
                waitlist_enabled=True,
                waitlist_limit=5,
                signup_opens_at=start - timedelta(days=7),
                cancel_deadline_hours=2,
                cancelled=status is EventStatus.CANCELLED,
            )
            if lead is not None and (town is towns[0] or i % 5 == 0):
                shift.leads.append(ShiftLead(user_id=lead.id))
            db.session.add(shift)
            db.session.flush()
            if status in (EventStatus.DRAFT, EventStatus.CANCELLED):
                continue
            # How full: past shifts well attended; upcoming ones from empty to full.
            fill = rng.choice([0.3, 0.6, 0.9, 1.0, 1.0, 1.4]) if day >= today else 0.9
            wanted = min(int(capacity * fill), capacity + 5)
            chosen = rng.sample(profiles, min(wanted, len(profiles)))
            if (
                demo_user is not None
                and i % 6 == 1
                and all(p.user_id != demo_user.id for p in chosen)
            ):
                chosen = [db.session.get(VolunteerProfile, demo_user.id), *chosen][: max(wanted, 1)]
            for n, profile in enumerate(chosen):
                queued = start - timedelta(days=5, minutes=-n)
                if n < capacity:
                    status_ = SignupStatus.CONFIRMED
                    if day < today:
                        status_ = (
                            SignupStatus.NO_SHOW if rng.random() < 0.08 else SignupStatus.ATTENDED
                        )
                    shift.taken += 1 if status_ is not SignupStatus.NO_SHOW else 0
                elif day >= today:
                    status_ = SignupStatus.WAITLISTED
                    shift.waitlisted += 1
                else:
                    continue
                db.session.add(
                    Signup(
                        shift_id=shift.id,
                        user_id=profile.user_id,
                        status=status_,
                        queued_at=queued,
                        created_at=queued,
                    )
                )
        db.session.flush()
        refresh_times(event)
        made += 1
    db.session.flush()
    return made


def _second_approver(candidates: list[User], shift: Shift) -> User | None:
    """A demo organiser of the shift's host other than the admin; None leaves the
    records pending."""
    from .services.scope import covers

    for user in candidates:
        if covers(user, shift.event.host, [Role.ORGANISER]):
            return user
    return None


LEAD_TODAY_TITLE = "今日演示：东关社区文明劝导"


def seed_lead_today() -> Shift | None:
    """A shift running now in 东关社区, led by 东关社区领队 (13800000005), with volunteers
    signed up (志愿者小王 among them): the lead can try the scanner the moment the demo is up."""
    if db.session.scalar(select(Event.id).where(Event.title == LEAD_TODAY_TITLE)):
        return None
    lead = db.session.scalar(select(User).where(User.phone == "13800000005"))
    community = find_node((data.DISTRICT, "环秀街道", "东关社区"))
    town = find_node((data.DISTRICT, "环秀街道"))
    if lead is None or community is None or town is None:
        return None
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    event = Event(
        host_id=town.id,
        area_id=community.id,
        title=LEAD_TODAY_TITLE,
        category="streets",
        address="东关社区党群服务中心",
        description="演示用：领队可以现在就打开扫码签到。",
        contact_name="王老师",
        contact_phone="0532-88510000",
        status=EventStatus.PUBLISHED,
    )
    db.session.add(event)
    shift = Shift(
        event=event,
        post="文明劝导岗",
        duties="文明劝导、环境清洁，听从站点负责人安排。",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=4),
        capacity=10,
        taken=0,
        waitlisted=0,
        waitlist_enabled=True,
        waitlist_limit=5,
        signup_opens_at=now - timedelta(days=7),
        cancel_deadline_hours=2,
    )
    shift.leads.append(ShiftLead(user_id=lead.id))
    db.session.add(shift)
    db.session.flush()
    people = db.session.scalars(
        select(VolunteerProfile)
        .where(VolunteerProfile.consented_at.is_not(None))
        .order_by(VolunteerProfile.user_id)
        .limit(6)
    ).all()
    for profile in people:
        db.session.add(
            Signup(
                shift_id=shift.id,
                user_id=profile.user_id,
                status=SignupStatus.CONFIRMED,
                queued_at=now - timedelta(days=2),
                created_at=now - timedelta(days=2),
            )
        )
        shift.taken += 1
    db.session.flush()
    refresh_times(event)
    return shift


def seed_ledger() -> int:
    """Attendance for the past shifts' attended sign-ups, the shifts confirmed into the
    ledger, and most records approved (recent ones pending, a few overdue)."""
    from . import hours, tallies
    from .services import approvals

    if db.session.scalar(select(ServiceRecord.id).limit(1)) is not None:
        return 0
    rng = random.Random(6)
    now = utcnow()
    organiser = db.session.scalar(select(User).where(User.phone == "13800000001"))
    lead = db.session.scalar(select(User).where(User.phone == "13800000005"))
    others = list(
        db.session.scalars(
            select(User).where(User.phone.in_(["13800000002", "13800000003", "13800000004"]))
        )
    )
    past = db.session.scalars(
        select(Shift).where(Shift.ends_at < now, Shift.cancelled.is_(False)).order_by(Shift.id)
    ).all()
    made = 0
    for shift in past:
        for signup in db.session.scalars(
            select(Signup).where(
                Signup.shift_id == shift.id, Signup.status == SignupStatus.ATTENDED
            )
        ):
            came = shift.starts_at + timedelta(minutes=rng.randint(-20, 15))
            left = shift.ends_at + timedelta(minutes=rng.randint(-30, 20))
            db.session.add(
                Attendance(
                    signup_id=signup.id,
                    shift_id=shift.id,
                    user_id=signup.user_id,
                    checked_in_at=came,
                    checked_out_at=left,
                    in_method=ScanMethod.LEAD_SCAN,
                    out_method=ScanMethod.LEAD_SCAN,
                )
            )
        db.session.flush()
        # The lead confirms the shifts they lead and the district admin approves; the admin
        # confirms the others and an organiser of the host approves (four eyes).
        led = lead is not None and any(s.user_id == lead.id for s in shift.leads)
        confirmer = lead if led else organiser
        records = hours.confirm_shift(confirmer, shift, now=shift.ends_at + timedelta(hours=1))
        made += len(records)
        age = (now - shift.ends_at).days
        if age > 5 and not (20 <= age <= 24):  # leave the last days, and a few older, pending
            approver = organiser if led else _second_approver(others, shift)
            if approver is not None:
                hours.decide(approver, records, True, now=shift.ends_at + timedelta(days=2))
            else:  # no second person in the demo covers the host: history before the rule
                with approvals.waived():
                    hours.decide(organiser, records, True, now=shift.ends_at + timedelta(days=2))
    # Earlier years' service entered from the paper records, so that star levels show.
    civilisation_office = find_node((data.DISTRICT, "即墨区文明办"))
    profiles = db.session.scalars(
        select(VolunteerProfile)
        .where(VolunteerProfile.consented_at.is_not(None))
        .order_by(VolunteerProfile.user_id)
    ).all()
    veterans = [p for p in profiles if p.user.phone == "13800000007"] + rng.sample(profiles, 40)
    for n, profile in enumerate(veterans):
        total_hours = 120 if n == 0 else rng.choice([60, 110, 150, 320, 350, 640, 1050, 1600])
        for year_offset, share in ((2, 0.5), (1, 0.5)):
            day = date(now.year - year_offset, rng.randint(3, 11), rng.randint(1, 28))
            record = ServiceRecord(
                user_id=profile.user_id,
                kind=RecordKind.MANUAL,
                activity="往年志愿服务记录补录",
                service_date=day,
                place="即墨区",
                content="文明创建志愿服务（纸质记录补录）",
                minutes=int(total_hours * share * 60),
                organisation="即墨区文明办",
                lead_name="区文明办管理员",
                community_id=profile.community_id,
                branch_id=profile.branch_id,
                host_id=civilisation_office.id,
                category="other",
                political_status=profile.political_status.value if profile.political_status else "",
                reason="纸质志愿服务记录录入",
                status=RecordStatus.APPROVED,
                created_by_id=organiser.id,
                decided_by_id=organiser.id,
                decided_at=now,
            )
            db.session.add(record)
            db.session.flush()
            tallies.apply_to_tallies(record)
            made += 1
    db.session.flush()
    return made


def seed_demo(password: str) -> list[DemoAccount]:
    """Everything the demo needs; running it again adds nothing twice."""
    seed_org_trees()
    accounts = seed_accounts(password)
    seed_demo_volunteer_profile()
    seed_volunteers(password)
    seed_events()
    seed_lead_today()
    seed_ledger()
    return accounts


def demo_logins() -> list[tuple[DemoAccount, User]]:
    """The demo accounts present in this database, for the development home page."""
    users = {
        u.phone: u
        for u in db.session.scalars(
            select(User).where(User.phone.in_([a.phone for a in DEMO_ACCOUNTS]))
        )
    }
    return [(a, users[a.phone]) for a in DEMO_ACCOUNTS if a.phone in users]
