"""The manifest, the service worker (served from the site root so that it controls every
page) and the page it shows when a page was never opened before and there is no signal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Response, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..models import Role
from .blueprint import bp

#: Our own files the service worker keeps from its install on (fingerprinted URLs). The
#: decoder's WebAssembly (1 MB) is kept only once the camera has needed it.
PRECACHE_STATIC = (
    "css/app.css",
    "js/app.js",
    "js/sw-register.js",
    "js/scanner.js",
    "js/offline-codes.js",
    "js/decoder.js",
    "js/my-code.js",
    "js/qr-refresh.js",
    "vendor/qrcode-generator/qrcode.js",
    "img/icon.svg",
)
PRECACHE_BOOTSTRAP = ("css/bootstrap.min.css", "js/bootstrap.min.js", "umd/popper.min.js")


def precache_urls() -> list[str]:
    urls = [url_for("offline.page")]
    urls += [url_for("static", filename=name) for name in PRECACHE_STATIC]
    urls += [url_for("bootstrap.static", filename=name) for name in PRECACHE_BOOTSTRAP]
    return urls


@bp.route("/manifest.webmanifest")
def manifest():
    body = {
        "name": _("Volunteers First"),
        "short_name": _("Volunteers First"),
        "description": _("Civilization Creation, Volunteers First"),
        "lang": "zh-CN",
        "start_url": url_for("offline.start"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#962d22",
        "icons": [
            {
                "src": url_for("static", filename="img/icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "any",
            }
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        mimetype="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@bp.route("/sw.js")
def service_worker():
    """static/js/sw.js with this release's list of files; its version changes with them."""
    urls = precache_urls()
    source = (Path(current_app.static_folder) / "js" / "sw.js").read_text(encoding="utf-8")
    version = hashlib.sha256(("\n".join(urls) + source).encode()).hexdigest()[:12]
    head = (
        f"var VERSION = {json.dumps(version)};\n"
        f"var PRECACHE = {json.dumps(urls)};\n"
        f"var OFFLINE_URL = {json.dumps(url_for('offline.page'))};\n"
    )
    return Response(
        head + source,
        mimetype="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@bp.route("/offline")
def page():
    return render_template("offline/offline.html")


@bp.route("/start")
def start():
    """The home-screen icon: a lead's check-in list or a volunteer's code (online); with no
    signal the service worker opens the page last kept instead."""
    if current_user.is_authenticated and current_user.has_role(Role.LEAD, Role.ORGANISER):
        return redirect(url_for("checkin.index"))
    if current_user.is_authenticated:
        return redirect(url_for("checkin.my_qr"))
    return redirect(url_for("main.index"))
