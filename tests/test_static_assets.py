"""Issue 17: static files for weak links — versioned URLs cached for a year, compressed
responses, the manifest and the service worker, and a page-weight budget."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta

import brotli
import pytest

from volunteer_app import signups
from volunteer_app.extensions import db
from volunteer_app.models import Role, ShiftLead
from volunteer_app.timeutil import local_today, utcnow

ASSET_RE = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')
#: One page with its CSS and JS, compressed as browsers take it (gzip), at most this much.
#: Bootstrap alone is 31 KiB gzipped (227 KiB raw): the budget leaves the pages room to grow
#: a little, not to double. (The decoder for browsers without BarcodeDetector is loaded only
#: when the camera starts, and is not counted.)
PAGE_WEIGHT_BUDGET = 90 * 1024


def _assets(html: str) -> list[str]:
    return ASSET_RE.findall(html)


def test_static_urls_carry_their_content_version(client):
    html = client.get("/").get_data(as_text=True)
    urls = _assets(html)
    assert urls, html
    for url in urls:
        assert re.search(r"[?&]v=[0-9a-f]{12}$", url), url


def test_versioned_static_file_is_cached_for_a_year_and_others_revalidate(client):
    url = next(u for u in _assets(client.get("/").get_data(as_text=True)) if "app.css" in u)
    fresh = client.get(url)
    assert fresh.status_code == 200
    assert fresh.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for stale in (url.split("?")[0], url.split("?")[0] + "?v=000000000000"):
        answer = client.get(stale)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(("accept", "encoding"), [("gzip, deflate", "gzip"), ("gzip, br", "br")])
def test_static_files_are_served_compressed(client, accept, encoding):
    url = next(
        u for u in _assets(client.get("/").get_data(as_text=True)) if "bootstrap.min.css" in u
    )
    plain = client.get(url).data
    packed = client.get(url, headers={"Accept-Encoding": accept})
    assert packed.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in packed.headers["Vary"]
    body = packed.data
    assert len(body) < len(plain) / 5
    assert (gzip.decompress(body) if encoding == "gzip" else brotli.decompress(body)) == plain


def test_pages_are_served_compressed(client):
    answer = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert b"<html" in gzip.decompress(answer.data)


def test_manifest_and_service_worker_are_served(client):
    html = client.get("/").get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in html
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json(force=True)
    assert body["start_url"] == "/start" and body["display"] == "standalone"
    worker = client.get("/sw.js")
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    source = worker.get_data(as_text=True)
    precache = re.search(r"var PRECACHE = (\[.*?\]);", source).group(1)
    urls = re.findall(r'"([^"]+)"', precache)
    assert "/offline" in urls and any("scanner.js?v=" in u for u in urls)
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert re.search(r'var VERSION = "[0-9a-f]{12}"', source)


def test_service_worker_version_changes_with_a_file(client, app, tmp_path, monkeypatch):
    from volunteer_app import assets

    first = re.search(r'VERSION = "(\w+)"', client.get("/sw.js").get_data(as_text=True)).group(1)
    monkeypatch.setattr(assets, "version_of", lambda endpoint, filename: "abcdefabcdef")
    second = re.search(r'VERSION = "(\w+)"', client.get("/sw.js").get_data(as_text=True)).group(1)
    assert first != second


def test_offline_page_shows_no_one(client, auth, make_volunteer):
    volunteer = make_volunteer()
    page = client.get("/offline").get_data(as_text=True)
    assert 'data-testid="offline-page"' in page and "whoami" not in page
    auth.login(volunteer.phone)
    assert client.get("/start").headers["Location"].endswith("/me/qr")


def test_csp_allows_the_service_worker_and_webassembly_on_the_scanner_only(
    client, make_event, make_user, tree, auth
):
    _event, shift = make_event(starts_in=timedelta(minutes=10))
    lead = make_user(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    db.session.commit()
    home = client.get("/").headers["Content-Security-Policy"]
    assert "worker-src 'self'" in home and "manifest-src 'self'" in home
    assert "wasm-unsafe-eval" not in home
    auth.login(lead.phone)
    scanner = client.get(f"/checkin/shifts/{shift.id}")
    assert scanner.status_code == 200
    assert "script-src 'self' 'wasm-unsafe-eval'" in scanner.headers["Content-Security-Policy"]
    html = scanner.get_data(as_text=True)
    assert "zxing_reader.wasm?v=" in html and "https://" not in html.split("<body")[0]


def _weight(client, path: str) -> dict[str, int]:
    page = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200, path
    html = gzip.decompress(page.data).decode()
    sizes = {path: len(page.data)}
    for url in _assets(html):
        answer = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, url
        sizes[url.split("?")[0]] = len(answer.data)
    return sizes


def test_page_weight_budget(client, auth, make_event, make_user, make_volunteer, tree):
    """Home, "My QR code" and the scanner, each with its CSS and JS, gzip-compressed."""
    _event, shift = make_event(starts_in=timedelta(minutes=10))
    lead = make_user(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    volunteer = make_volunteer()
    signups.sign_up(volunteer, shift, now=utcnow(), today=local_today())
    db.session.commit()
    weights = {"home": _weight(client, "/")}
    auth.login(volunteer.phone)
    weights["my_qr"] = _weight(client, "/me/qr")
    auth.logout()
    auth.login(lead.phone)
    weights["scanner"] = _weight(client, f"/checkin/shifts/{shift.id}")
    for name, sizes in weights.items():
        total = sum(sizes.values())
        print(f"page weight (gzip) {name}: {total / 1024:.1f} KiB")
        assert total <= PAGE_WEIGHT_BUDGET, (name, total, sizes)
