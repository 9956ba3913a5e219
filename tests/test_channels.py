"""Notification channels: SMTP e-mail, SMS (log and HTTP gateway), SMS splitting, quiet
hours, fan-out to the channels a volunteer chose, and retry back-off."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from tests.conftest import csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import Channel, CodePurpose, Notification, User
from volunteer_app.services import channels, notify, sms
from volunteer_app.services.channels import (
    ChannelUnavailable,
    DeliveryError,
    next_attempt,
    quiet_until,
    sms_units,
    split_sms,
)
from volunteer_app.timeutil import from_local, utcnow

PROMOTED = {"event": "街巷清洁", "post": "清扫组", "time": "6月1日 09:00"}
PROMOTED_ZH = "有名额空出，您已确认参加街巷清洁的清扫组岗位（6月1日 09:00）。"
#: The SMS: the signature and the approved template (services/sms_templates.py) filled in.
PROMOTED_SMS = (
    "【志愿先行】有名额空出，您已确认参加街巷清洁的清扫组岗位（6月1日 09:00）。"
    "详情：https://v.cn/s"
)


# ---------------------------------------------------------------- local servers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Mailbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields (host, port, mailbox)."""
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.hostname, controller.port, mailbox
    finally:
        controller.stop()


class _Gateway:
    """What the fake SMS provider received, and what it answers next."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict | str]] = []
        self.url = ""


@pytest.fixture
def sms_gateway():
    """An HTTP SMS gateway on 127.0.0.1:<free> that records each POST; answers 200 ok
    unless `gateway.answers` holds (status, body) pairs to answer first."""
    gateway = _Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            gateway.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(raw.decode("utf-8")),
                }
            )
            status, body = gateway.answers.pop(0) if gateway.answers else (200, {"ok": True})
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _person(make_user, **fields) -> User:
    user = make_user()
    for name, value in fields.items():
        setattr(user, name, value)
    db.session.commit()
    return user


def _send(row: Notification) -> Notification:
    db.session.commit()
    notify.deliver([row.id])
    return db.session.get(Notification, row.id)


# ---------------------------------------------------------------- e-mail


def test_email_goes_over_smtp_to_the_users_address_with_chinese_utf8(app, make_user, smtp_server):
    host, port, mailbox = smtp_server
    app.config.update(MAIL_SERVER=host, MAIL_PORT=port, MAIL_FROM="志愿先行 <noreply@jimo.test>")
    user = _person(make_user, email="wang@example.test", locale="zh")
    row = notify.enqueue("signup_promoted", channel=Channel.EMAIL, user=user, payload=PROMOTED)
    row = _send(row)
    assert row.sent_at is not None, row.last_error
    assert len(mailbox.envelopes) == 1
    envelope = mailbox.envelopes[0]
    assert envelope.rcpt_tos == ["wang@example.test"]
    assert envelope.mail_from == "noreply@jimo.test"
    message = message_from_bytes(envelope.original_content, policy=email_policy.default)
    assert message["Subject"] == "志愿先行通知"
    assert message["To"] == "wang@example.test"
    assert "志愿先行" in str(message["From"])
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().strip() == PROMOTED_ZH


def test_email_to_the_rows_own_address_wins(app, make_user, smtp_server):
    host, port, mailbox = smtp_server
    app.config.update(MAIL_SERVER=host, MAIL_PORT=port)
    user = _person(make_user, email="old@example.test")
    row = notify.enqueue(
        "signup_promoted",
        channel=Channel.EMAIL,
        user=user,
        address="new@example.test",
        payload=PROMOTED,
    )
    assert _send(row).sent_at is not None
    assert mailbox.envelopes[0].rcpt_tos == ["new@example.test"]


def test_a_multi_line_email_takes_its_first_line_as_the_subject():
    assert channels.email_subject_and_text("活动取消\n原定周六的活动取消。") == (
        "活动取消",
        "原定周六的活动取消。",
    )
    assert channels.email_subject_and_text("一行通知") == ("志愿先行通知", "一行通知")


def test_email_without_a_server_fails_with_channel_unavailable_kept_in_last_error(app, make_user):
    assert app.config["MAIL_SERVER"] is None
    user = _person(make_user, email="wang@example.test")
    row = notify.enqueue("signup_promoted", channel=Channel.EMAIL, user=user, payload=PROMOTED)
    with pytest.raises(ChannelUnavailable, match="MAIL_SERVER"):
        channels.deliver_email(row)
    row = _send(row)
    assert row.sent_at is None
    assert row.attempts == 1
    assert "MAIL_SERVER" in row.last_error


def test_an_unreachable_smtp_server_is_a_delivery_error(app, make_user):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_TIMEOUT=2)
    user = _person(make_user, email="wang@example.test")
    row = notify.enqueue("signup_promoted", channel=Channel.EMAIL, user=user, payload=PROMOTED)
    with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1"):
        channels.deliver_email(row)


# ---------------------------------------------------------------- SMS over HTTP


def _http_sms(app, gateway, **extra) -> None:
    app.config.update(
        SMS_BACKEND="http",
        SMS_GATEWAY_URL=gateway.url,
        SMS_API_KEY="key-123",
        SMS_SIGN="志愿先行",
        **extra,
    )


def test_sms_http_posts_json_with_bearer_key_sign_and_template_id(app, make_user, sms_gateway):
    _http_sms(app, sms_gateway, SMS_TEMPLATE_IDS='{"signup_promoted": "SMS_0042"}')
    user = _person(make_user, phone="13912345678", locale="zh")
    payload = {**PROMOTED, "url": "https://v.cn/s"}
    row = notify.enqueue("signup_promoted", channel=Channel.SMS, user=user, payload=payload)
    row = _send(row)
    assert row.sent_at is not None, row.last_error
    [request] = sms_gateway.requests
    assert request["path"] == "/sms/send"
    assert request["authorization"] == "Bearer key-123"
    assert request["content_type"].startswith("application/json")
    assert request["json"] == {
        "phone": "13912345678",
        "text": PROMOTED_SMS,
        "sign": "志愿先行",
        "template_id": "SMS_0042",
        "template_params": payload,
    }


def test_sms_http_without_a_configured_code_sends_the_tables_code(app, make_user, sms_gateway):
    _http_sms(app, sms_gateway)
    user = _person(make_user)
    row = notify.enqueue("signup_promoted", channel=Channel.SMS, user=user, payload=PROMOTED)
    assert _send(row).sent_at is not None
    assert sms_gateway.requests[0]["json"]["template_id"] == "VF_PROMOTED"


def test_every_sms_carries_the_signature_in_front(app, make_user):
    user = _person(make_user)
    for template, payload in [
        ("signup_promoted", PROMOTED),
        ("reminder_soon", {**PROMOTED, "place": "东关"}),
        ("sms_code", {"code": "123456"}),
    ]:
        row = notify.enqueue(template, channel=Channel.SMS, user=user, payload=payload)
        assert row.body.startswith("【志愿先行】"), row.body


def test_a_long_sms_goes_out_as_separate_requests_in_order(app, make_user, sms_gateway):
    _http_sms(app, sms_gateway)
    user = _person(make_user, locale="zh")
    row = notify.enqueue("signup_promoted", channel=Channel.SMS, user=user, payload=PROMOTED)
    row.body = "甲" * 60 + "乙" * 60 + "丙" * 15  # 135 characters: three parts
    row = _send(row)
    assert row.sent_at is not None, row.last_error
    texts = [request["json"]["text"] for request in sms_gateway.requests]
    assert texts == split_sms(row.body)
    assert [text[:5] for text in texts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert "".join(text[5:] for text in texts) == row.body
    assert all(len(text) <= 70 for text in texts)


def test_a_gateway_error_status_raises_with_the_providers_message(app, make_user, sms_gateway):
    _http_sms(app, sms_gateway)
    sms_gateway.answers.append((400, {"ok": False, "error": "签名未报备 (sign not approved)"}))
    user = _person(make_user)
    row = notify.enqueue("signup_promoted", channel=Channel.SMS, user=user, payload=PROMOTED)
    with pytest.raises(DeliveryError, match=r"400: 签名未报备 \(sign not approved\)"):
        channels.deliver_sms(row)


def test_an_ok_false_answer_raises_and_the_message_is_kept_in_last_error(
    app, make_user, sms_gateway
):
    _http_sms(app, sms_gateway)
    sms_gateway.answers.append((200, {"ok": False, "error": "号码已停机 (number suspended)"}))
    user = _person(make_user)
    row = notify.enqueue("signup_promoted", channel=Channel.SMS, user=user, payload=PROMOTED)
    row = _send(row)
    assert row.sent_at is None
    assert row.attempts == 1
    assert "号码已停机 (number suspended)" in row.last_error


def test_sms_http_without_a_gateway_url_is_unavailable(app, make_user):
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL=None)
    user = _person(make_user)
    row = notify.enqueue("signup_promoted", channel=Channel.SMS, user=user, payload=PROMOTED)
    with pytest.raises(ChannelUnavailable, match="SMS_GATEWAY_URL"):
        channels.deliver_sms(row)


def test_an_unreachable_gateway_is_a_delivery_error(app, make_user):
    app.config.update(
        SMS_BACKEND="http", SMS_GATEWAY_URL=f"http://127.0.0.1:{_free_port()}/", SMS_TIMEOUT=2
    )
    user = _person(make_user)
    row = notify.enqueue("signup_promoted", channel=Channel.SMS, user=user, payload=PROMOTED)
    with pytest.raises(DeliveryError, match="unreachable"):
        channels.deliver_sms(row)


@pytest.mark.config(DEV_TOOLS=True)
def test_the_log_backend_still_logs_codes_and_feeds_dev_messages(app, client, caplog):
    assert app.config["SMS_BACKEND"] == "log"
    caplog.set_level(logging.WARNING, logger="volunteer_app.notify")
    response = client.post(
        "/auth/register",
        data={"csrf_token": csrf_token(client, "/auth/register"), "phone": "13655556666"},
    )
    assert response.status_code == 302
    row = db.session.scalar(select(Notification).where(Notification.address == "13655556666"))
    assert row is not None and row.sent_at is not None
    assert any("SMS to 13655556666" in message for message in caplog.messages)
    page = client.get("/dev/messages").get_data(as_text=True)
    assert row.body in page


def test_the_log_backend_via_request_code(app, caplog):
    caplog.set_level(logging.WARNING, logger="volunteer_app.notify")
    outbox_id = sms.request_code("13677778888", CodePurpose.REGISTER, now=utcnow())
    db.session.commit()
    assert notify.deliver([outbox_id]) == 1
    assert any("SMS to 13677778888" in message for message in caplog.messages)


# ---------------------------------------------------------------- splitting


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (69, 1), (70, 1), (71, 2), (130, 2), (131, 2), (134, 2), (135, 3), (201, 3)],
)
def test_sms_split_counts_at_the_edges(length, parts):
    text = "志" * length
    split = split_sms(text)
    assert len(split) == parts
    assert all(sms_units(part) <= 70 for part in split)
    if parts == 1:
        assert split == [text]


def test_a_70_character_sms_is_one_message_unchanged():
    assert split_sms("字" * 70) == ["字" * 70]


def test_71_characters_are_numbered_when_the_numbering_fits():
    assert split_sms("字" * 71) == ["(1/2)" + "字" * 65, "(2/2)" + "字" * 6]


def test_134_characters_are_two_unnumbered_parts_of_67():
    assert split_sms("字" * 134) == ["字" * 67, "字" * 67]


def test_135_characters_are_three_numbered_parts():
    parts = split_sms("字" * 135)
    assert parts == ["(1/3)" + "字" * 65, "(2/3)" + "字" * 65, "(3/3)" + "字" * 5]
    assert max(len(part) for part in parts) == 70


def test_every_unnumbered_part_holds_at_most_67_characters():
    for length in range(71, 400):
        parts = split_sms("字" * length)
        texts = [p[5:] if p.startswith("(") else p for p in parts]
        assert all(len(text) <= 67 for text in texts)
        assert all(len(part) <= 70 for part in parts)
        assert "".join(texts) == "字" * length


def test_an_emoji_counts_two_units_and_is_never_cut():
    assert sms_units("😀") == 2
    assert split_sms("字" * 68 + "😀") == ["字" * 68 + "😀"]  # 70 units
    parts = split_sms("字" * 69 + "😀")  # 70 characters but 71 units
    assert len(parts) == 2
    assert "".join(p[5:] for p in parts) == "字" * 69 + "😀"
    for part in split_sms("😀" * 80):
        body = part[5:] if part.startswith("(") else part
        assert body == "😀" * (len(body))  # whole emoji only, no lone surrogate halves
        assert sms_units(part) <= 70


def test_a_cut_never_lands_inside_an_emoji_sequence_or_a_flag():
    family = "👨\u200d👩\u200d👧"  # one symbol, 8 units
    flag = "🇨🇳"
    text = "字" * 64 + family + "字" * 10 + flag + "字" * 60
    parts = split_sms(text)
    bodies = [p[5:] if p.startswith("(") else p for p in parts]
    assert "".join(bodies) == text
    assert any(family in body for body in bodies)
    assert any(flag in body for body in bodies)
    assert all(sms_units(part) <= 70 for part in parts)
    # a cut exactly in the middle of the flag's two regional indicators would break it
    near_flag = split_sms("字" * 66 + flag + "字" * 10)
    assert any(flag in p for p in near_flag)


# ---------------------------------------------------------------- quiet hours


def _quiet(start: int = 22, end: int = 7) -> User:
    return User(phone="13900000000", quiet_start=start, quiet_end=end)


def _local(*args: int) -> datetime:
    """A local (Asia/Shanghai) wall time as the naive UTC the functions take."""
    return from_local(datetime(*args))


def test_quiet_hours_at_22_30_hold_until_the_next_7_00():
    assert quiet_until(_quiet(), _local(2026, 6, 1, 22, 30), urgent=False) == _local(
        2026, 6, 2, 7, 0
    )


def test_quiet_hours_at_06_59_hold_until_7_00_the_same_day():
    assert quiet_until(_quiet(), _local(2026, 6, 2, 6, 59), urgent=False) == _local(
        2026, 6, 2, 7, 0
    )


def test_quiet_hours_start_at_22_00_and_end_at_07_00():
    assert quiet_until(_quiet(), _local(2026, 6, 1, 22, 0), urgent=False) == _local(
        2026, 6, 2, 7, 0
    )
    assert quiet_until(_quiet(), _local(2026, 6, 1, 21, 59), urgent=False) is None
    assert quiet_until(_quiet(), _local(2026, 6, 2, 7, 0), urgent=False) is None
    assert quiet_until(_quiet(), _local(2026, 6, 2, 0, 0), urgent=False) == _local(2026, 6, 2, 7, 0)


def test_midday_is_not_quiet():
    assert quiet_until(_quiet(), _local(2026, 6, 1, 12, 0), urgent=False) is None


def test_urgent_messages_ignore_quiet_hours():
    assert quiet_until(_quiet(), _local(2026, 6, 1, 23, 0), urgent=True) is None


def test_a_quiet_window_that_does_not_wrap_midnight():
    lunch = _quiet(13, 14)
    assert quiet_until(lunch, _local(2026, 6, 1, 13, 30), urgent=False) == _local(2026, 6, 1, 14, 0)
    assert quiet_until(lunch, _local(2026, 6, 1, 12, 59), urgent=False) is None
    assert quiet_until(lunch, _local(2026, 6, 1, 14, 0), urgent=False) is None
    assert quiet_until(lunch, _local(2026, 6, 1, 23, 0), urgent=False) is None


def test_equal_quiet_hours_mean_no_quiet_window():
    assert quiet_until(_quiet(0, 0), _local(2026, 6, 1, 3, 0), urgent=False) is None


def test_a_shift_within_two_hours_is_urgent():
    now = datetime(2026, 6, 1, 12, 0)
    assert channels.is_urgent(now + timedelta(hours=2), now)
    assert channels.is_urgent(now + timedelta(minutes=5), now)
    assert not channels.is_urgent(now + timedelta(hours=2, seconds=1), now)
    assert not channels.is_urgent(None, now)


# ---------------------------------------------------------------- fan-out


def _rows(user: User) -> dict[Channel, Notification]:
    rows = db.session.scalars(select(Notification).where(Notification.user_id == user.id))
    return {row.channel: row for row in rows}


def test_fan_out_creates_in_app_sms_and_email_rows(app, make_user):
    user = _person(make_user, email="li@example.test", notify_email=True, locale="zh")
    now = _local(2026, 6, 1, 12, 0)
    created = notify.fan_out(
        "signup_promoted", user, PROMOTED, dedupe_key="promoted:signup:7", now=now
    )
    db.session.commit()
    assert {row.channel for row in created} == {Channel.IN_APP, Channel.SMS, Channel.EMAIL}
    rows = _rows(user)
    assert {channel: row.dedupe_key for channel, row in rows.items()} == {
        Channel.IN_APP: "promoted:signup:7:in_app",
        Channel.SMS: "promoted:signup:7:sms",
        Channel.EMAIL: "promoted:signup:7:email",
    }
    assert all(row.not_before == now for row in rows.values())
    assert rows[Channel.IN_APP].body == rows[Channel.EMAIL].body == PROMOTED_ZH
    assert rows[Channel.SMS].body == "【志愿先行】" + PROMOTED_ZH + "详情："


def test_fan_out_respects_the_users_preferences(app, make_user):
    now = _local(2026, 6, 1, 12, 0)
    in_app_only = _person(make_user, notify_sms=False, email="a@example.test")
    created = notify.fan_out("signup_promoted", in_app_only, PROMOTED, dedupe_key="k1", now=now)
    assert [row.channel for row in created] == [Channel.IN_APP]

    no_address = _person(make_user, notify_email=True, email=None)
    created = notify.fan_out("signup_promoted", no_address, PROMOTED, dedupe_key="k2", now=now)
    assert [row.channel for row in created] == [Channel.IN_APP, Channel.SMS]


def test_fan_out_holds_sms_in_quiet_hours_but_not_in_app_or_email(app, make_user):
    user = _person(make_user, email="li@example.test", notify_email=True)
    night = _local(2026, 6, 1, 23, 15)
    notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="night", now=night)
    rows = _rows(user)
    assert rows[Channel.SMS].not_before == _local(2026, 6, 2, 7, 0)
    assert rows[Channel.IN_APP].not_before == night
    assert rows[Channel.EMAIL].not_before == night


def test_fan_out_urgent_sms_is_not_held(app, make_user):
    user = _person(make_user)
    night = _local(2026, 6, 1, 23, 15)
    notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="u", now=night, urgent=True)
    assert _rows(user)[Channel.SMS].not_before == night


def test_fan_out_twice_creates_nothing_more(app, make_user):
    user = _person(make_user, email="li@example.test", notify_email=True)
    now = _local(2026, 6, 1, 12, 0)
    first = notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="twice", now=now)
    db.session.commit()
    again = notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="twice", now=now)
    db.session.commit()
    assert len(first) == 3
    assert again == []
    assert db.session.scalar(select(func.count(Notification.id))) == 3


def test_fan_out_adds_only_the_channels_still_missing(app, make_user):
    user = _person(make_user)
    now = _local(2026, 6, 1, 12, 0)
    notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="later", now=now)
    user.email, user.notify_email = "li@example.test", True
    created = notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="later", now=now)
    assert [row.channel for row in created] == [Channel.EMAIL]


def test_a_unique_violation_from_a_race_does_not_break_the_caller(app, make_user):
    user = _person(make_user)
    now = _local(2026, 6, 1, 12, 0)
    notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="race", now=now)
    db.session.commit()
    # A twin already committed these keys: the insert skips them (ON CONFLICT DO NOTHING),
    # with no error that would undo the caller's own work.
    user.display_name = "调用方的修改"  # the caller's own pending work
    again = notify.fan_out("signup_promoted", user, PROMOTED, dedupe_key="race", now=now)
    assert again == []
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, user.id).display_name == "调用方的修改"
    assert db.session.scalar(select(func.count(Notification.id))) == 2


def test_fan_out_in_english_and_in_chinese(app, make_user):
    now = _local(2026, 6, 1, 12, 0)
    zh = _person(make_user, locale="zh")
    en = _person(make_user, locale="en")
    [zh_row, *_] = notify.fan_out("signup_promoted", zh, PROMOTED, dedupe_key="zh", now=now)
    [en_row, *_] = notify.fan_out("signup_promoted", en, PROMOTED, dedupe_key="en", now=now)
    assert zh_row.body == PROMOTED_ZH
    assert en_row.body.startswith("A place became free")


def test_enqueue_without_a_locale_renders_chinese(app, make_user):
    user = _person(make_user, locale=None)
    row = notify.enqueue("signup_promoted", channel=Channel.IN_APP, user=user, payload=PROMOTED)
    assert row.body == PROMOTED_ZH


def test_a_deleted_account_gets_nothing(app, make_user):
    user = _person(make_user, deleted_at=_local(2026, 5, 1, 12, 0))
    created = notify.fan_out(
        "signup_promoted", user, PROMOTED, dedupe_key="gone", now=_local(2026, 6, 1, 12, 0)
    )
    assert created == []


# ---------------------------------------------------------------- back-off


def test_back_off_doubles_from_two_minutes_and_caps_at_six_hours():
    now = datetime(2026, 6, 1, 12, 0)
    waits = [next_attempt(attempts, now) - now for attempts in range(12)]
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[8] == timedelta(minutes=256)
    assert waits[9] == timedelta(hours=6)
    assert all(later >= earlier for earlier, later in itertools.pairwise(waits))
    assert next_attempt(10_000, now) - now == timedelta(hours=6)
    assert channels.MAX_ATTEMPTS == 8
