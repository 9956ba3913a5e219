"""The roster's vocabulary and the import's limits.

The roster is a Chinese document whatever the interface language: its headers and values
are fixed Chinese names (GB/T 4762 for political status), not translations.
"""

from __future__ import annotations

from flask_babel import force_locale

from ...models import Gender, IdType, PoliticalStatus, Role

MAX_ROWS = 5000
#: The header row is looked for among the first rows (a title line may come first).
HEADER_SEARCH_ROWS = 10
#: Who may import, within the subtree of their grants (admin passes everywhere).
IMPORT_ROLES = (Role.ORGANISER,)


#: key -> the header written in the template.
HEADERS: dict[str, str] = {
    "name": "姓名",
    "phone": "手机号",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "gender": "性别",
    "birth_date": "出生日期",
    "town": "镇街",
    "community": "社区/村",
    "political_status": "政治面貌",
    "branch": "党支部",
    "skills": "技能",
    "categories": "服务类别",
    "emergency_name": "紧急联系人",
    "emergency_phone": "紧急联系电话",
}
REQUIRED_COLUMNS = ("name", "phone", "id_number", "town", "community", "political_status")

#: Other ways rosters head the same columns.
HEADER_ALIASES: dict[str, str] = {
    **{header: key for key, header in HEADERS.items()},
    "真实姓名": "name",
    "手机": "phone",
    "手机号码": "phone",
    "联系电话": "phone",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "街道": "town",
    "镇/街道": "town",
    "镇街道": "town",
    "所属镇街": "town",
    "社区": "community",
    "村": "community",
    "社区村": "community",
    "村/社区": "community",
    "所属社区": "community",
    "所在党支部": "branch",
    "特长": "skills",
    "服务意向": "categories",
    "紧急联系人电话": "emergency_phone",
    "紧急联系人手机": "emergency_phone",
}

ID_TYPE_NAMES: dict[str, IdType] = {
    "居民身份证": IdType.RESIDENT,
    "身份证": IdType.RESIDENT,
    "港澳居民来往内地通行证": IdType.HK_MACAO,
    "港澳通行证": IdType.HK_MACAO,
    "台湾居民来往大陆通行证": IdType.TAIWAN,
    "台胞证": IdType.TAIWAN,
    "护照": IdType.PASSPORT,
}
ID_TYPE_TEMPLATE_NAMES = ["居民身份证", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "护照"]

#: GB/T 4762 short names, as in the template, and the full names.
POLITICAL_NAMES: dict[PoliticalStatus, tuple[str, ...]] = {
    PoliticalStatus.CPC_MEMBER: ("中共党员", "中国共产党党员", "党员"),
    PoliticalStatus.CPC_PROBATIONARY: ("中共预备党员", "中国共产党预备党员", "预备党员"),
    PoliticalStatus.CYL_MEMBER: ("共青团员", "中国共产主义青年团团员", "团员"),
    PoliticalStatus.RCCK: ("民革党员", "中国国民党革命委员会会员", "民革会员"),
    PoliticalStatus.CDL: ("民盟盟员", "中国民主同盟盟员"),
    PoliticalStatus.CNDCA: ("民建会员", "中国民主建国会会员"),
    PoliticalStatus.CAPD: ("民进会员", "中国民主促进会会员"),
    PoliticalStatus.CPWDP: ("农工党党员", "中国农工民主党党员"),
    PoliticalStatus.CZGP: ("致公党党员", "中国致公党党员"),
    PoliticalStatus.JIUSAN: ("九三学社社员",),
    PoliticalStatus.TDSGL: ("台盟盟员", "台湾民主自治同盟盟员"),
    PoliticalStatus.NON_PARTISAN: ("无党派人士", "无党派民主人士"),
    PoliticalStatus.MASSES: ("群众",),
}

SKILL_NAMES: dict[str, str] = {
    "first_aid": "急救",
    "legal": "法律咨询",
    "counselling": "心理咨询",
    "photography": "摄影摄像",
    "driving": "驾驶",
    "translation": "外语",
    "performance": "文艺表演",
    "repair": "家电维修",
    "haircut": "理发",
    "calligraphy": "书法",
    "housekeeping": "家政",
    "tutoring": "课业辅导",
    "computing": "电脑",
    "sign_language": "手语",
    "cooking": "烹饪",
}

CATEGORY_NAMES: dict[str, str] = {
    "env_sanitation": "环境卫生",
    "streets": "道路街巷",
    "business_order": "经营秩序",
    "traffic_order": "交通秩序",
    "outdoor_ads": "户外广告",
    "residential": "居住小区",
    "window_service": "窗口文明服务",
    "health_city": "卫生城市复审",
    "party_community": "党建共建",
    "other": "其他",
}

GENDER_NAMES = {"男": Gender.MALE, "男性": Gender.MALE, "女": Gender.FEMALE, "女性": Gender.FEMALE}


def code_lookup(names: dict[str, str], labels: dict[str, object]) -> dict[str, str]:
    """Chinese name, current Chinese and English label, or code -> code."""
    lookup = {code: code for code in labels}
    for code, label in labels.items():
        lookup[str(label).strip().lower()] = code
        with force_locale("zh"):
            lookup[str(label).strip()] = code
    lookup.update({name: code for code, name in names.items()})
    return lookup


def political_lookup() -> dict[str, PoliticalStatus]:
    """Code, short or full name -> political status."""
    lookup = {status.value: status for status in PoliticalStatus}
    for status, names in POLITICAL_NAMES.items():
        lookup.update(dict.fromkeys(names, status))
    return lookup
