"""Role-aware navigation and the values every template sees."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .i18n import large_text_enabled
from .models import Role
from .permissions import PAGE_ROLES
from .services import notify


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    #: Who sees it: None for everyone logged in, else any of these roles (admin sees all).
    roles: frozenset[Role] | None = None
    icon: str = ""
    #: Shown to visitors who are not logged in, too.
    public: bool = False

    @property
    def is_work(self) -> bool:
        """Staff pages go on the second row of the menu."""
        return self.roles is not None


#: In menu order. An item shows only when its endpoint exists, so each feature adds
#: its own entries here and the menu never links to a page that is not there. Who sees a
#: staff page's entry is the page's own rule (permissions.PAGE_ROLES).
NAV_ITEMS: list[NavItem] = [
    NavItem("main.index", _l("Home")),
    NavItem("events.index", _l("Events"), public=True),
    NavItem("volunteers.me", _l("My profile")),
    NavItem("events.my_shifts", _l("My shifts")),
    NavItem("checkin.my_qr", _l("My QR code")),
    NavItem("hours.mine", _l("My hours")),
    *(
        NavItem(endpoint, label, PAGE_ROLES[endpoint])
        for endpoint, label in (
            ("checkin.index", _l("Check-in")),
            ("hours.pending", _l("Hours to approve")),
            ("organise.dashboard", _l("Workspace")),
            ("events.organise_list", _l("Events I organise")),
            ("volunteers.search", _l("Volunteers")),
            ("tallies.index", _l("Tallies")),
            ("exchange.index", _l("National system")),
            ("main.my_roles", _l("My duties")),
            ("admin.orgs", _l("Organisations")),
            ("admin.grants", _l("Roles")),
            ("admin.audit", _l("Audit log")),
        )
    ),
]


def visible_nav() -> list[NavItem]:
    """The menu for the current user."""
    endpoints = current_app.view_functions
    if not current_user.is_authenticated:
        return [i for i in NAV_ITEMS if i.public and i.endpoint in endpoints]
    roles = current_user.roles
    items = []
    for item in NAV_ITEMS:
        if item.endpoint not in endpoints:
            continue
        if item.roles is not None and not (roles & (item.roles | {Role.ADMIN})):
            continue
        items.append(item)
    return items


def register(app: Flask) -> None:
    from .catalog import LEVEL_LABELS, ROLE_LABELS

    app.jinja_env.globals.update(LEVEL_LABELS=LEVEL_LABELS, ROLE_LABELS=ROLE_LABELS)

    @app.template_filter("labels")
    def labels(codes: list | None, mapping: dict, sep: str = "、") -> str:
        """Codes shown by their labels: ['first_aid'] -> '医疗急救'."""
        return sep.join(str(mapping.get(code, code)) for code in codes or [])

    @app.context_processor
    def inject() -> dict:
        locale = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
        nav = visible_nav()  # once per page: the three lists below share it
        return {
            "nav_items": nav,
            "nav_personal": [i for i in nav if not i.is_work],
            "nav_work": [i for i in nav if i.is_work],
            "languages": app.config["LANGUAGES"],
            "current_locale": locale,
            "html_lang": "zh-CN" if locale.startswith("zh") else locale,
            "large_text": large_text_enabled(),
            "current_endpoint": request.endpoint,
            "unread_notifications": (
                notify.unread_count(current_user) if current_user.is_authenticated else 0
            ),
        }
