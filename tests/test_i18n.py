"""Chinese first, English selectable, every string through the catalogs."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po

from tests.conftest import ROOT, Auth, csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import User


def test_every_message_in_the_code_is_translated_into_chinese(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "pybabel") if (ROOT / ".venv").exists() else "pybabel",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "_",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with (ROOT / "translations/zh/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = {m.id: m for m in read_po(fh, locale="zh") if m.id}
    missing = sorted(str(i) for i in wanted if i not in catalog or not catalog[i].string)
    assert not missing, "untranslated (run `make i18n`, then translate): " + "; ".join(missing)


def test_compiled_catalogs_are_committed_and_current():
    for locale in ("zh", "en"):
        po = ROOT / f"translations/{locale}/LC_MESSAGES/messages.po"
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} is missing: run `make i18n`"
        assert mo.stat().st_mtime >= po.stat().st_mtime - 1 or _same_messages(po, mo)


def _same_messages(po, mo) -> bool:
    from babel.messages.mofile import read_mo

    with po.open("rb") as fh:
        source = {m.id: m.string for m in read_po(fh) if m.id and m.string}
    with mo.open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id and m.string}
    return source == compiled


def test_pages_are_chinese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN"' in html
    assert "文明创建 志愿先行" in html


def test_a_visitor_switches_to_english_and_the_cookie_remembers(client):
    token = csrf_token(client, "/")
    response = client.post("/language?next=/auth/login", data={"csrf_token": token, "lang": "en"})
    assert response.headers["Location"] == "/auth/login"
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en"' in html
    assert "Civilization Creation, Volunteers First" in html


def test_the_language_is_remembered_on_the_account(app, make_user):
    user = make_user()
    first = app.test_client()
    Auth(first).login(user.phone)
    Auth(first).post("/language", {"lang": "en"})
    assert db.session.get(User, user.id).locale == "en"
    second = app.test_client()  # another phone: no cookie, same account
    Auth(second).login(user.phone)
    assert '<html lang="en"' in second.get("/").get_data(as_text=True)


def test_an_unknown_language_is_ignored(client):
    token = csrf_token(client, "/")
    client.post("/language", data={"csrf_token": token, "lang": "fr"})
    assert '<html lang="zh-CN"' in client.get("/").get_data(as_text=True)


def test_error_pages_speak_the_users_language(client):
    assert "页面不存在" in client.get("/no-such-page").get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert "Page not found" in client.get("/no-such-page").get_data(as_text=True)


def test_tools_i18n_check_passes():
    result = subprocess.run(
        [sys.executable, "tools/i18n.py", "check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
