"""Issue 18 in a real Chromium: the town organiser (who holds the national record officer
role on 环秀街道) creates an export batch for the national volunteer system, downloads the
Excel file and opens it: the records sheet has the headers of the column mapping and the
full ID number; the next batch offers nothing new."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from openpyxl import load_workbook
from playwright.sync_api import expect

from volunteer_app.services import exchange_file
from volunteer_app.timeutil import local_today

from .conftest import assert_accessible, login

TOWN_ORGANISER = "13800000004"  # 环秀街道
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")


def test_the_town_organiser_exports_a_batch_and_opens_the_file(desktop_page, shot):
    page = desktop_page
    start = (local_today() - timedelta(days=300)).isoformat()  # a batch spans at most a year
    login(page, TOWN_ORGANISER)
    page.goto(f"/hours/exchange?start={start}")
    expect(page.locator("h1")).to_contain_text("全国志愿服务信息系统")
    assert_accessible(page)
    page.locator("[data-testid=batch-form] [type=submit]").click()
    expect(page.locator(".alert-success").first).to_be_visible()
    shot(page, "exchange-batch-desktop")
    with page.expect_download() as download:
        page.locator("[data-testid=download-xlsx]").first.click()
    assert download.value.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    records = workbook[exchange_file.sheet("records").title]
    rows = list(records.iter_rows(values_only=True))
    headers = list(rows[0])
    assert headers == [h for _f, h in exchange_file.sheet("records").columns]
    assert len(rows) > 1
    column = headers.index("证件号码")
    assert all(ID_NUMBER.match(str(row[column])) for row in rows[1:])  # full, not masked
    people = workbook[exchange_file.sheet("volunteers").title]
    assert list(next(people.iter_rows(values_only=True))) == [
        h for _f, h in exchange_file.sheet("volunteers").columns
    ]
    # Everything in the range has been carried: nothing new to send.
    page.goto(f"/hours/exchange?start={start}")
    expect(page.locator("[data-testid=batch-form] [type=submit]")).to_be_disabled()
