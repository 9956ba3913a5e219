"""Language selection: the account's choice, else the visitor's cookie, else Chinese."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from flask import current_app, has_request_context, request
from flask_login import current_user

LANG_COOKIE = "lang"
LARGE_TEXT_COOKIE = "large_text"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in languages:
        return cookie
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def babel_locale() -> Locale:
    """Flask-Babel's locale selector: `select_locale`'s choice, as a Locale made once per
    language (given a code, Flask-Babel would parse it again on every request)."""
    return locale_object(select_locale())


@lru_cache(maxsize=8)
def locale_object(code: str) -> Locale:
    """The Babel Locale of a language code, made once."""
    return Locale.parse(code)


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def large_text_enabled() -> bool:
    """The 适老化 large-text mode: the account's setting, else the visitor's cookie."""
    if getattr(current_user, "is_authenticated", False):
        return bool(current_user.large_text)
    return request.cookies.get(LARGE_TEXT_COOKIE) == "1"
