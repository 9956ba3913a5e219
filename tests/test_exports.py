"""Exports: CSV with a BOM and Excel files that open, where no cell can run as a formula;
every tally export is audited and stays inside the user's scope."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.test_tallies import approved
from volunteer_app.extensions import db
from volunteer_app.models import AuditLog, Role, VolunteerProfile
from volunteer_app.services import exports

DANGEROUS = ["=1+1", "@SUM(A1)", "-2", "+86 139", "\t=1", "\r=1", " =HYPERLINK(1)", "＝1+1"]
SAFE = ["王小明", "1+1", "a=b", "", "东关社区"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_text_that_could_run_as_a_formula_gets_a_quote(value):
    assert exports.neutralise(value) == "'" + value


@pytest.mark.parametrize("value", [*SAFE, -2, 3.5, 0, None, date(2026, 1, 1)])
def test_other_values_pass_unchanged(value):
    assert exports.neutralise(value) == value


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_csv_has_a_bom_headers_and_neutralised_cells():
    body = exports.to_csv(
        ["姓名", "=header", "时长"], [[name, "x", -2] for name in DANGEROUS + SAFE]
    )
    rows = _csv_rows(body)
    assert rows[0] == ["姓名", "'=header", "时长"]
    for row, name in zip(rows[1:], DANGEROUS + SAFE, strict=True):
        assert row[0] == exports.neutralise(name)
        assert row[2] == "-2"  # a number stays a number
    assert b"\r\n" in body


def test_xlsx_opens_with_openpyxl_has_the_headers_and_only_text_cells():
    names = DANGEROUS + SAFE
    body = exports.to_xlsx(
        ["姓名", "时长"], [[name, 1.5] for name in names], title="东关社区: 2026/01"
    )
    book = load_workbook(io.BytesIO(body))
    sheet = book.active
    assert sheet.title == "东关社区_ 2026_01"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("姓名", "时长")
    for row, name in zip(rows[1:], names, strict=True):
        # XML turns a carriage return into a line feed on reading; the quote stays first.
        assert row[0] == (exports.neutralise(name).replace("\r", "\n") or None)
        assert row[1] == 1.5
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate


def test_a_large_table_is_written_in_write_only_mode():
    rows = ([f"志愿者{i}", i, i / 7] for i in range(20_000))
    body = exports.to_xlsx(["姓名", "序号", "时长"], rows)
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    assert sum(1 for _row in sheet.iter_rows(values_only=True)) == 20_001


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        exports.render("pdf", ["a"], [])


# ---------------------------------------------------------------- the pages' exports


@pytest.fixture
def formula_names(app, tree, make_volunteer):
    """Volunteers of 东关社区 named like formulas, Party members of the branch, with hours."""
    users = []
    for name in ("=1+1", "@SUM(A1)", "-2"):
        user = make_volunteer(tree.community_a1, party=True)
        db.session.get(VolunteerProfile, user.id).real_name = name
        approved(
            user,
            community=tree.community_a1,
            branch=tree.branch,
            host=tree.town_a,
            day=date(2026, 1, 10),
            minutes=90,
            political="01",
            service_area=tree.community_a1,
        )
        users.append(user)
    db.session.commit()
    return users


PERIOD = "period=custom&start=2026-01-01&end=2026-01-31"


def _audits() -> list[AuditLog]:
    return list(
        db.session.scalars(
            select(AuditLog).where(AuditLog.action == "export.tally").order_by(AuditLog.id)
        )
    )


def test_community_list_exports_neutralise_names_in_csv_and_excel(login_as, tree, formula_names):
    client, user = login_as(Role.ORGANISER, tree.town_a)
    base = f"/tallies/area/{tree.community_a1.id}?{PERIOD}&table=people"

    response = client.get(base + "&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = _csv_rows(response.get_data())
    assert rows[0][0] == "Name" or rows[0][0] == "名称"
    names = sorted(row[0] for row in rows[1:])
    assert names == sorted(["'=1+1", "'@SUM(A1)", "'-2"])
    assert all(row[3] == "1.5" for row in rows[1:])
    assert all("****" in row[1] for row in rows[1:])  # phones masked

    response = client.get(base + "&format=xlsx")
    assert response.status_code == 200
    assert response.mimetype == exports.XLSX_MIMETYPE
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values[0]) == 5 and values[0][0] in ("Name", "名称")
    assert sorted(row[0] for row in values[1:]) == sorted(["'=1+1", "'@SUM(A1)", "'-2"])
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    audits = _audits()
    assert [a.detail["format"] for a in audits] == ["csv", "xlsx"]
    for audit in audits:
        assert audit.actor_id == user.id
        assert audit.detail["scope"] == tree.community_a1.id
        assert audit.detail["rows"] == 3
        assert audit.ip


def test_units_export_lists_the_children_with_their_figures(login_as, tree, formula_names):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    response = client.get(f"/tallies/area/{tree.town_a.id}?{PERIOD}&format=csv")
    rows = _csv_rows(response.get_data())
    assert len(rows[0]) == 7
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {tree.community_a1.name, tree.community_a2.name}
    assert by_name[tree.community_a1.name][1:4] == ["3", "3", "4.5"]
    assert _audits()[0].detail == {
        "scope": tree.town_a.id,
        "rows": 2,
        "format": "csv",
        "table": "units",
    }


def test_dual_report_export_neutralises_names(login_as, tree, formula_names):
    client, _ = login_as(Role.BRANCH_SECRETARY, tree.branch)
    url = f"/tallies/party/{tree.branch.id}/dual?year=2026&quarter=1&format=xlsx"
    response = client.get(url)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values[0]) == 5
    assert sorted(row[0] for row in values[1:]) == sorted(["'=1+1", "'@SUM(A1)", "'-2"])
    assert all(row[2] == 1.5 and row[3] == 0 for row in values[1:])
    assert _audits()[0].detail["scope"] == tree.branch.id


def test_an_export_outside_the_scope_is_404_and_not_audited(login_as, tree, formula_names):
    client, _ = login_as(Role.ORGANISER, tree.town_b)
    for url in [
        f"/tallies/area/{tree.community_a1.id}?format=csv&table=people",
        f"/tallies/area/{tree.town_a.id}?format=xlsx",
        f"/tallies/party/{tree.branch.id}/dual?format=csv",
    ]:
        assert client.get(url).status_code == 404, url
    assert _audits() == []
