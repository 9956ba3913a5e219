"""Text readable at 200% zoom: a 390-pixel phone at 200% lays out like a 195-pixel-wide
viewport; the pages reflow without sideways scrolling (WCAG 1.4.4 and 1.4.10)."""

from __future__ import annotations

import pytest

from .conftest import _new_page, login

ZOOMED_PHONE = {
    "viewport": {"width": 195, "height": 422},
    "device_scale_factor": 4,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}

PAGES = [
    "/",
    "/events",
    "/auth/login",
    "/auth/register",
    "/me",
    "/me/qr",
    "/my/shifts",
    "/my/hours",
    "/notifications",
]


@pytest.mark.parametrize("large_text", [False, True], ids=["normal", "large-text"])
def test_pages_reflow_at_200_percent_zoom(browser, live_server, request, large_text):
    context, page = _new_page(browser, live_server, request, "zoomed", **ZOOMED_PHONE)
    login(page, "13800000007")
    if large_text:
        page.goto("/")
        page.locator("[data-testid=large-text]").click()
    overflowing = []
    for path in PAGES:
        page.goto(path)
        width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if width[0] > width[1] + 1:
            wide = page.evaluate(
                """() => {
                  const limit = document.documentElement.clientWidth + 1;
                  return Array.from(document.querySelectorAll('body *'))
                    .filter(e => e.getBoundingClientRect().right > limit
                                 && !e.closest('.table-responsive'))
                    .slice(0, 3)
                    .map(e => e.tagName + '.' + e.className + ' '
                              + (e.textContent || '').trim().slice(0, 20));
                }"""
            )
            overflowing.append(f"{path}: {width[0]}px > {width[1]}px {wide}")
    context.close()
    assert not overflowing, "sideways scrolling at 200% zoom:\n" + "\n".join(overflowing)
