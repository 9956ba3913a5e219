"""Home page, language and large-text preferences, "my duties"."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request
from flask_login import current_user, login_required

from ..demo import demo_logins
from ..i18n import LANG_COOKIE, LARGE_TEXT_COOKIE, large_text_enabled
from ..models import STAFF_ROLES
from ..query import safe_next
from ..services import accounts, orgs
from ..services.home import volunteer_home
from ..timeutil import local_today, utcnow
from .blueprint import bp

CATEGORY_KEYS = [
    "env_sanitation",
    "streets",
    "business_order",
    "traffic_order",
    "outdoor_ads",
    "residential",
    "window_service",
]

ONE_YEAR = 365 * 24 * 3600


@bp.route("/")
def index():
    logins = demo_logins() if current_app.config.get("SHOW_DEMO_LOGINS") else []
    home = None
    if current_user.is_authenticated:
        home = volunteer_home(current_user, now=utcnow(), today=local_today())
    return render_template(
        "main/index.html", demo_logins=logins, categories=CATEGORY_KEYS, home=home
    )


@bp.route("/language", methods=["POST"])
def set_language():
    lang = request.form.get("lang", "")
    response = redirect(safe_next())
    if lang not in current_app.config["LANGUAGES"]:
        return response
    if current_user.is_authenticated:
        accounts.set_preferences(current_user, locale=lang)
    response.set_cookie(LANG_COOKIE, lang, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response


@bp.route("/large-text", methods=["POST"])
def toggle_large_text():
    enabled = not large_text_enabled()
    if current_user.is_authenticated:
        accounts.set_preferences(current_user, large_text=enabled)
    response = redirect(safe_next())
    response.set_cookie(
        LARGE_TEXT_COOKIE, "1" if enabled else "0", max_age=ONE_YEAR, samesite="Lax", httponly=True
    )
    return response


@bp.route("/my/duties")
@login_required
def my_roles():
    grants = [g for g in current_user.grants if g.role in STAFF_ROLES]
    scopes = [(g, orgs.subtree(g.org_unit)) for g in grants]
    return render_template("main/my_roles.html", scopes=scopes)
