"""The roster template: an .xlsx with the header row, an example row and a 说明 sheet."""

from __future__ import annotations

import io
from datetime import date

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from ...extensions import db
from ...models import OrgLevel, OrgUnit, User
from ...services import idnumbers
from ...services.scope import path_filter
from ...services.spreadsheets import MAX_BYTES
from .vocabulary import (
    CATEGORY_NAMES,
    HEADERS,
    ID_TYPE_TEMPLATE_NAMES,
    IMPORT_ROLES,
    MAX_ROWS,
    POLITICAL_NAMES,
    SKILL_NAMES,
)


def _example_place(importer: User) -> tuple[str, str]:
    """A town and community for the example row: the first the importer covers."""
    query = (
        select(OrgUnit)
        .where(OrgUnit.level == OrgLevel.COMMUNITY, OrgUnit.active.is_(True))
        .order_by(OrgUnit.path)
        .limit(1)
    )
    community = db.session.scalar(
        query.where(path_filter(OrgUnit.path, importer, IMPORT_ROLES))
    ) or db.session.scalar(query)
    if community is None or community.parent is None:
        return "", ""
    return community.parent.name, community.name


def build_template(importer: User) -> bytes:
    """The roster template: the header row, one example row and a 说明 sheet."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "志愿者"
    keys = list(HEADERS)
    sheet.append([HEADERS[key] for key in keys])
    town, community = _example_place(importer)
    example = {
        "name": "张三",
        "phone": "13800138000",
        "id_type": "居民身份证",
        "id_number": idnumbers.make_resident_number("370282", date(1990, 5, 1), 123, True),
        "gender": "",
        "birth_date": "",
        "town": town,
        "community": community,
        "political_status": "群众",
        "branch": "",
        "skills": "、".join([SKILL_NAMES["first_aid"], SKILL_NAMES["driving"]]),
        "categories": CATEGORY_NAMES["env_sanitation"],
        "emergency_name": "李四",
        "emergency_phone": "13900139000",
    }
    sheet.append([example[key] for key in keys])
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="F4CCCC")
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center")
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
    last = MAX_ROWS + 1
    for index, key in enumerate(keys, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = 24 if key in ("id_number", "community") else 14
        if key in ("phone", "id_number", "emergency_phone", "birth_date"):
            # Text, so that Excel keeps every digit of long numbers.
            sheet.column_dimensions[letter].number_format = "@"
            sheet.cell(row=2, column=index).number_format = "@"
        choices = {
            "id_type": ID_TYPE_TEMPLATE_NAMES,
            "gender": ["男", "女"],
            "political_status": [names[0] for names in POLITICAL_NAMES.values()],
        }.get(key)
        if choices:
            validation = DataValidation(
                type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True
            )
            validation.add(f"{letter}2:{letter}{last}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    _explanations(workbook.create_sheet("说明"))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _explanations(sheet: Worksheet) -> None:
    yes, no = str(_l("Yes")), str(_l("No"))
    rows = [
        ("name", yes, _l("The volunteer's real name, at most 50 characters.")),
        (
            "phone",
            yes,
            _l(
                "11-digit mainland mobile number; it becomes the login, and the invitation "
                "SMS goes to it. It must not be registered yet."
            ),
        ),
        ("id_type", no, _l("One of the listed ID types; blank means 居民身份证.")),
        (
            "id_number",
            yes,
            _l(
                "The 18-character resident ID number (birth date and gender are read from "
                "it), or the number of the other ID. Keep this column formatted as text."
            ),
        ),
        ("gender", _l("Other ID types"), _l("男 or 女; only for other ID types.")),
        (
            "birth_date",
            _l("Other ID types"),
            _l("For example 1990-05-01; only for other ID types."),
        ),
        ("town", yes, _l("The town or subdistrict, named exactly as on this platform.")),
        (
            "community",
            yes,
            _l(
                "The community or village where the volunteer lives, within the town above "
                "and within your area."
            ),
        ),
        ("political_status", yes, _l("One of the names listed below (GB/T 4762).")),
        (
            "branch",
            _l("Party members"),
            _l(
                "For 中共党员 and 中共预备党员: the name of their Party branch on this "
                "platform (for in-service members, the branch of their workplace)."
            ),
        ),
        ("skills", no, _l("Skills from the list below, separated by 、.")),
        (
            "categories",
            _l("With an emergency contact"),
            _l(
                "Kinds of service the volunteer would like to do, from the list below, "
                "separated by 、."
            ),
        ),
        (
            "emergency_name",
            no,
            _l(
                "Name of an emergency contact. Without one, the volunteer completes this "
                "step at the first login; skills and kinds of service need it."
            ),
        ),
        (
            "emergency_phone",
            _l("With an emergency contact"),
            _l("The emergency contact's 11-digit mobile number, not the volunteer's own."),
        ),
    ]
    sheet.append([str(_l("Column")), str(_l("Required")), str(_l("Explanation"))])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for key, required, text in rows:
        sheet.append([HEADERS[key], str(required), str(text)])
    sheet.append([])
    for text in (
        _l("Row 2 of the first sheet is an example: replace it or delete it."),
        _l(
            "Keep the header row as it is. At most %(n)d rows and %(mb)d MB per file.",
            n=MAX_ROWS,
            mb=MAX_BYTES // 2**20,
        ),
        _l(
            "Nothing is imported until every row is correct. Each new volunteer gets an SMS "
            "invitation to set a password and gives their own consent at the first login."
        ),
    ):
        sheet.append([str(text)])
    sheet.append([])
    lists = [
        (_l("ID types"), ID_TYPE_TEMPLATE_NAMES),
        (_l("Political status"), [names[0] for names in POLITICAL_NAMES.values()]),
        (_l("Skills"), list(SKILL_NAMES.values())),
        (_l("Kinds of service"), list(CATEGORY_NAMES.values())),
    ]
    for title, values in lists:
        sheet.append([str(title), "", "、".join(values)])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 16
    sheet.column_dimensions["C"].width = 90
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
