"""Fixed vocabularies: event categories, skills, availability, political status, ID types,
org unit levels and roles."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .models import IdType, PoliticalStatus, Role

#: The campaign's seven special actions, the health-city review, Party-community work, other.
CATEGORIES: dict[str, object] = {
    "env_sanitation": _l("Environmental sanitation"),
    "streets": _l("Roads and back streets"),
    "business_order": _l("Order in business streets"),
    "traffic_order": _l("Traffic order"),
    "outdoor_ads": _l("Outdoor advertising"),
    "residential": _l("Residential compounds"),
    "window_service": _l("Civilised service at service windows"),
    "health_city": _l("Health-city review"),
    "party_community": _l("Party and community together"),
    "other": _l("Other"),
}

SKILLS: dict[str, object] = {
    "first_aid": _l("First aid"),
    "legal": _l("Legal advice"),
    "counselling": _l("Counselling"),
    "photography": _l("Photography and video"),
    "driving": _l("Driving"),
    "translation": _l("Foreign languages"),
    "performance": _l("Performing arts"),
    "repair": _l("Appliance repair"),
    "haircut": _l("Hairdressing"),
    "calligraphy": _l("Calligraphy"),
    "housekeeping": _l("Housekeeping"),
    "tutoring": _l("Tutoring"),
    "computing": _l("Computers"),
    "sign_language": _l("Sign language"),
    "cooking": _l("Cooking"),
}

AVAILABILITY: dict[str, object] = {
    "weekday_day": _l("Weekday daytime"),
    "weekday_evening": _l("Weekday evenings"),
    "weekend_day": _l("Weekend daytime"),
    "weekend_evening": _l("Weekend evenings"),
}

POLITICAL_STATUS: dict[PoliticalStatus, object] = {
    PoliticalStatus.CPC_MEMBER: _l("Member of the Communist Party of China"),
    PoliticalStatus.CPC_PROBATIONARY: _l("Probationary member of the Communist Party of China"),
    PoliticalStatus.CYL_MEMBER: _l("Member of the Communist Youth League"),
    PoliticalStatus.RCCK: _l("Member of the Revolutionary Committee of the Kuomintang"),
    PoliticalStatus.CDL: _l("Member of the China Democratic League"),
    PoliticalStatus.CNDCA: _l("Member of the China National Democratic Construction Association"),
    PoliticalStatus.CAPD: _l("Member of the China Association for Promoting Democracy"),
    PoliticalStatus.CPWDP: _l("Member of the Chinese Peasants' and Workers' Democratic Party"),
    PoliticalStatus.CZGP: _l("Member of the China Zhi Gong Party"),
    PoliticalStatus.JIUSAN: _l("Member of the Jiusan Society"),
    PoliticalStatus.TDSGL: _l("Member of the Taiwan Democratic Self-Government League"),
    PoliticalStatus.NON_PARTISAN: _l("Non-partisan"),
    PoliticalStatus.MASSES: _l("Ordinary citizen"),
}

ID_TYPES: dict[IdType, object] = {
    IdType.RESIDENT: _l("Resident ID card"),
    IdType.HK_MACAO: _l("Mainland travel permit for Hong Kong and Macao residents"),
    IdType.TAIWAN: _l("Mainland travel permit for Taiwan residents"),
    IdType.PASSPORT: _l("Passport"),
}

LEVEL_LABELS = {
    "district": _l("District"),
    "town": _l("Town / subdistrict"),
    "community": _l("Community / village"),
    "party_root": _l("District Party committee"),
    "party_committee": _l("Party committee"),
    "party_general_branch": _l("General Party branch"),
    "party_branch": _l("Party branch"),
    "organiser": _l("Organiser"),
    "practice_station": _l("Civilisation practice station"),
    "team": _l("Volunteer team"),
}

ROLE_LABELS = {
    Role.VOLUNTEER.value: _l("Volunteer"),
    Role.LEAD.value: _l("Event lead"),
    Role.ORGANISER.value: _l("Organiser"),
    Role.BRANCH_SECRETARY.value: _l("Party branch secretary"),
    Role.ADMIN.value: _l("District administrator"),
    Role.RECORDER.value: _l("National record officer"),
}
