"""The base layout: navigation by role, large text, error pages, headers, no other hosts."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token
from volunteer_app.models import Role

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//""", re.I)


def menu_html(html: str) -> str:
    """Both rows of the menu (personal and staff pages)."""
    return "".join(re.findall(r'<ul class="navbar-nav[^"]*"[^>]*>(.*?)</ul>', html, re.S))


def nav_labels(html: str) -> list[str]:
    return [
        m.strip() for m in re.findall(r'class="nav-link[^"]*"[^>]*>([^<]+)</a>', menu_html(html))
    ]


@pytest.mark.parametrize(
    ("role", "expected", "absent"),
    [
        (None, ["首页"], ["组织架构", "角色授权", "审计日志", "我的职责"]),
        (Role.LEAD, ["首页", "我的职责"], ["组织架构", "审计日志"]),
        (Role.BRANCH_SECRETARY, ["首页", "我的职责"], ["组织架构", "审计日志"]),
        (Role.ORGANISER, ["首页", "我的职责", "组织架构", "角色授权"], ["审计日志"]),
        (Role.ADMIN, ["首页", "我的职责", "组织架构", "角色授权", "审计日志"], []),
    ],
)
def test_each_role_reaches_its_own_navigation(login_as, role, expected, absent):
    client, _ = login_as(role)
    labels = nav_labels(client.get("/").get_data(as_text=True))
    for label in expected:
        assert label in labels
    for label in absent:
        assert label not in labels
    # Every menu entry opens for that role.
    html = client.get("/").get_data(as_text=True)
    for href in re.findall(r'href="([^"]+)"', menu_html(html)):
        assert client.get(href).status_code == 200, href


def test_anonymous_visitor_sees_register_and_login(client):
    html = client.get("/").get_data(as_text=True)
    assert "成为志愿者" in html
    assert 'href="/auth/login"' in html


@pytest.mark.parametrize("path", ["/", "/auth/login", "/auth/register", "/no-such-page"])
def test_pages_load_nothing_from_another_host_and_have_no_inline_script(client, path):
    html = client.get(path).get_data(as_text=True)
    assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r'\sstyle\s*=\s*"', html), "inline style attribute"


def test_bootstrap_is_served_by_the_app(client):
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/bootstrap/static/css/[^"]+)"', html).group(1)
    js = re.search(r'src="(/bootstrap/static/js/[^"]+)"', html).group(1)
    assert client.get(css).status_code == 200
    assert client.get(js).status_code == 200


def test_security_headers_on_every_response(client):
    for path in ["/", "/no-such-page", "/static/css/app.css"]:
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_large_text_mode_persists_for_a_visitor(client):
    token = csrf_token(client, "/")
    client.post("/large-text?next=/", data={"csrf_token": token})
    assert '<html lang="zh-CN" class="large-text">' in client.get("/auth/login").get_data(
        as_text=True
    )
    client.post("/large-text?next=/", data={"csrf_token": token})
    assert 'class="large-text"' not in client.get("/").get_data(as_text=True)


def test_large_text_mode_is_remembered_on_the_account(app, login_as):
    from tests.conftest import Auth

    client, user = login_as(None)
    Auth(client).post("/large-text", {})
    other = app.test_client()
    from tests.conftest import PASSWORD

    Auth(other).login(user.phone, PASSWORD)
    assert 'class="large-text"' in other.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "code", "text"),
    [("/no-such-page", 404, "页面不存在"), ("/auth/logout", 405, "此处不支持该操作")],
)
def test_error_pages_are_friendly(client, path, code, text):
    response = client.get(path)
    assert response.status_code == code
    assert text in response.get_data(as_text=True)


def test_403_page(login_as):
    client, _ = login_as(None)
    response = client.get("/admin/audit")
    assert response.status_code == 403
    assert "您的账号无权打开此页面" in response.get_data(as_text=True)


def test_api_errors_are_json_in_chinese(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json["error"]["message"] == "页面不存在，或您无权查看。"


def test_500_page_says_nothing_was_saved(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "您填写的内容未被保存" in response.get_data(as_text=True)
