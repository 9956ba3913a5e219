"""The texts of the outbox's messages: template name -> renderer(payload) -> text, called
in the recipient's language (services/notify.py renders with them).

Every message the app sends has its renderer here, in one table. An SMS with an approved
provider template is sent with that template's fixed Chinese text instead
(services/sms_templates.py); the in-app and e-mail copies use the text below.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _


def _sms_code(p: dict) -> str:
    return _(
        "[Volunteers First] Your verification code is %(code)s. It is valid for 5 minutes. "
        "If you did not ask for it, ignore this message.",
        code=p["code"],
    )


def _sms_already_registered(_p: dict) -> str:
    return _(
        "[Volunteers First] Someone tried to register with this number, which already has an "
        "account. Log in, or use 'Forgot password' to set a new password."
    )


def _sms_not_registered(_p: dict) -> str:
    return _(
        "[Volunteers First] A password reset was asked for this number, which has no account. "
        "You can register with it."
    )


def _invitation(p: dict) -> str:
    return _(
        "[Volunteers First] %(org)s has registered you as a volunteer. Set your password at "
        "%(url)s with this phone number.",
        org=p["org"],
        url=p["url"],
    )


def _team_answer(p: dict) -> str:
    if p["approved"]:
        return _("Your request to join %(team)s was approved.", team=p["team"])
    return _("Your request to join %(team)s was declined.", team=p["team"])


def _signup_promoted(p: dict) -> str:
    return _(
        "A place became free: you are now confirmed for %(post)s of %(event)s at %(time)s.",
        post=p["post"],
        event=p["event"],
        time=p["time"],
    )


def _signup_removed(p: dict) -> str:
    return _(
        "The organiser removed your sign-up for %(post)s of %(event)s. %(reason)s",
        post=p["post"],
        event=p["event"],
        reason=p.get("reason", ""),
    ).strip()


def _event_cancelled(p: dict) -> str:
    return _(
        "%(event)s on %(time)s has been cancelled. %(reason)s",
        event=p["event"],
        time=p["time"],
        reason=p.get("reason", ""),
    ).strip()


def _shift_cancelled(p: dict) -> str:
    return _(
        "The shift %(post)s of %(event)s on %(time)s has been cancelled. %(reason)s",
        post=p["post"],
        event=p["event"],
        time=p["time"],
        reason=p.get("reason", ""),
    ).strip()


def _shift_changed(p: dict) -> str:
    return _(
        "The time of %(post)s of %(event)s has changed: now %(time)s. If you cannot come, "
        "please cancel in “My shifts”.",
        post=p["post"],
        event=p["event"],
        time=p["time"],
    )


def _signup_confirmed(p: dict) -> str:
    return _(
        "You are signed up for %(post)s of %(event)s at %(time)s, %(place)s.",
        post=p["post"],
        event=p["event"],
        time=p["time"],
        place=p["place"],
    )


def _signup_waitlisted(p: dict) -> str:
    return _(
        "%(post)s of %(event)s at %(time)s is full: you are number %(position)s on the "
        "waitlist. We tell you if a place becomes free.",
        post=p["post"],
        event=p["event"],
        time=p["time"],
        position=p["position"],
    )


def _place_changed(p: dict) -> str:
    return _(
        "The place of %(event)s (%(time)s) has changed: now %(place)s. If you cannot come, "
        "please cancel in “My shifts”.",
        event=p["event"],
        time=p["time"],
        place=p["place"],
    )


def _waitlist_expired(p: dict) -> str:
    return _(
        "%(post)s of %(event)s (%(time)s) has started and no place became free: your place "
        "on the waitlist has ended. Thank you for signing up.",
        post=p["post"],
        event=p["event"],
        time=p["time"],
    )


def _noshow_hold(p: dict) -> str:
    return _(
        "You did not come to several shifts you had signed up for. Until %(until)s, new "
        "sign-ups go onto the waitlist.",
        until=p["until"],
    )


def _correction_answered(p: dict) -> str:
    return _(
        "Your correction request about %(activity)s has been answered: %(answer)s",
        activity=p["activity"],
        answer=p["answer"],
    )


def _correction_decided(p: dict) -> str:
    if p["approved"]:
        return _(
            "The correction of your hours for %(activity)s (%(minutes)s minutes) was approved.",
            activity=p["activity"],
            minutes=p["minutes"],
        )
    return _(
        "The correction of your hours for %(activity)s (%(minutes)s minutes) was not approved.",
        activity=p["activity"],
        minutes=p["minutes"],
    )


# ---------------------------------------------------------------- reminders (jobs.py)


def _reminder_day(p: dict) -> str:
    return _(
        "Reminder: tomorrow %(time)s you serve at %(event)s (%(post)s), %(place)s. "
        "Can't come? Cancel in “My shifts”: %(url)s",
        time=p["time"],
        event=p["event"],
        post=p["post"],
        place=p["place"],
        url=p["url"],
    )


def _reminder_soon(p: dict) -> str:
    return _(
        "Your shift %(post)s of %(event)s starts at %(time)s at %(place)s. Open “My QR code” "
        "when you arrive.",
        time=p["time"],
        event=p["event"],
        post=p["post"],
        place=p["place"],
    )


def _thanks(p: dict) -> str:
    return _(
        "Thank you for serving at %(event)s! Credited time: %(minutes)d minutes, once the "
        "lead confirms. A problem? Tell us: %(url)s",
        event=p["event"],
        minutes=p["minutes"],
        url=p["url"],
    )


# ---------------------------------------------------------------- organisers' messages


def _organiser_message(p: dict) -> str:
    if p.get("post"):
        return _(
            "Message from %(org)s about %(event)s (%(post)s): %(text)s",
            org=p["org"],
            event=p["event"],
            post=p["post"],
            text=p["text"],
        )
    return _(
        "Message from %(org)s about %(event)s: %(text)s",
        org=p["org"],
        event=p["event"],
        text=p["text"],
    )


#: template name -> renderer(payload) -> text, called in the recipient's language.
TEMPLATES: dict[str, Callable[[dict], str]] = {
    "sms_code": _sms_code,
    "sms_already_registered": _sms_already_registered,
    "sms_not_registered": _sms_not_registered,
    "invitation": _invitation,
    "team_answer": _team_answer,
    "signup_promoted": _signup_promoted,
    "signup_removed": _signup_removed,
    "event_cancelled": _event_cancelled,
    "shift_cancelled": _shift_cancelled,
    "shift_changed": _shift_changed,
    "signup_confirmed": _signup_confirmed,
    "signup_waitlisted": _signup_waitlisted,
    "place_changed": _place_changed,
    "waitlist_expired": _waitlist_expired,
    "noshow_hold": _noshow_hold,
    "correction_answered": _correction_answered,
    "correction_decided": _correction_decided,
    "reminder_day": _reminder_day,
    "reminder_soon": _reminder_soon,
    "thanks": _thanks,
    "organiser_message": _organiser_message,
}
