"""The SMS template table: what Chinese providers (Aliyun, Tencent Cloud) send.

A provider sends only templates approved beforehand (模板), each with a code, a fixed text
with named parameters (``${event}``) and the approved signature (签名, here 【志愿先行】).
An application passes the code and the parameter values; the provider fills them in.

The texts below are the ones filed with the provider, word for word, in Chinese: they are
not translated through the catalog because a changed character means a rejected message.
Changing one means filing it again; the provider's code for each (assigned on approval)
goes into SMS_TEMPLATE_IDS (``{"signup_promoted": "SMS_123456789", ...}``); without it the
code below is used (what the log and HTTP backends and the tests see).

An outbox row's template name is the key here. A message without a template here (an
organiser's own text) is free text: only backends that allow free text may send it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: Aliyun refuses a parameter value longer than this (isv.PARAM_LENGTH_LIMIT); links are
#: exempt here because a template files them as a link parameter.
PARAM_MAX = 35
_PARAM = re.compile(r"\$\{([a-z_]+)\}")


@dataclass(frozen=True)
class SmsTemplate:
    key: str  #: the outbox template name
    code: str  #: the default template code (SMS_TEMPLATE_IDS overrides it)
    text: str  #: the approved text, with ${name} parameters
    #: Payload -> parameter values, for parameters not taken from the payload as they are.
    derive: Callable[[Mapping], dict] | None = field(default=None, compare=False)
    #: Counted against the daily cap per phone (the codes have their own limits).
    capped: bool = True

    @property
    def params(self) -> tuple[str, ...]:
        """The parameter names, in the order they appear."""
        return tuple(dict.fromkeys(_PARAM.findall(self.text)))


def _team(p: Mapping) -> dict:
    return {"result": "已通过" if p.get("approved") else "未通过"}


def _decision(p: Mapping) -> dict:
    return {"result": "已批准" if p.get("approved") else "未批准"}


_ROWS = [
    SmsTemplate(
        "sms_code",
        "VF_CODE",
        "您的验证码为 ${code}，5 分钟内有效。如非本人操作请忽略。",
        capped=False,
    ),
    SmsTemplate(
        "sms_already_registered",
        "VF_ALREADY_REGISTERED",
        "本号码已注册，请直接登录；忘记密码可使用“找回密码”。",
        capped=False,
    ),
    SmsTemplate(
        "sms_not_registered",
        "VF_NOT_REGISTERED",
        "有人用本号码找回密码，但本号码尚未注册，可直接注册。",
        capped=False,
    ),
    SmsTemplate(
        "invitation", "VF_INVITATION", "${org}已将您登记为志愿者，请用本手机号在${url}设置密码。"
    ),
    SmsTemplate("team_answer", "VF_TEAM_ANSWER", "您加入${team}的申请${result}。", _team),
    SmsTemplate(
        "signup_confirmed",
        "VF_SIGNUP_CONFIRMED",
        "报名成功：${event}（${post}），${time}，地点${place}。详情：${url}",
    ),
    SmsTemplate(
        "signup_waitlisted",
        "VF_SIGNUP_WAITLISTED",
        "您已进入${event}（${post}，${time}）候补名单第${position}位，有名额时会通知您。详情：${url}",
    ),
    SmsTemplate(
        "signup_promoted",
        "VF_PROMOTED",
        "有名额空出，您已确认参加${event}的${post}岗位（${time}）。详情：${url}",
    ),
    SmsTemplate(
        "signup_removed",
        "VF_REMOVED",
        "组织方取消了您在${event}（${post}）的报名。原因：${reason}。详情：${url}",
    ),
    SmsTemplate(
        "event_cancelled",
        "VF_EVENT_CANCELLED",
        "${event}（${time}）已取消。原因：${reason}。详情：${url}",
    ),
    SmsTemplate(
        "shift_cancelled",
        "VF_SHIFT_CANCELLED",
        "${event}的${post}班次（${time}）已取消。原因：${reason}。详情：${url}",
    ),
    SmsTemplate(
        "shift_changed",
        "VF_SHIFT_CHANGED",
        "${event}的${post}班次时间有变，现为${time}。如不能参加，请在“我的班次”取消：${url}",
    ),
    SmsTemplate(
        "place_changed",
        "VF_PLACE_CHANGED",
        "${event}（${time}）的地点有变，现为${place}。如不能参加，请在“我的班次”取消：${url}",
    ),
    SmsTemplate(
        "waitlist_expired",
        "VF_WAITLIST_EXPIRED",
        "${event}的${post}班次（${time}）已开始，您未能从候补递补，候补已结束。更多活动：${url}",
    ),
    SmsTemplate(
        "noshow_hold",
        "VF_NOSHOW_HOLD",
        "您近期多次报名后未到岗，${until}前报名只能进入候补名单。详情：${url}",
    ),
    SmsTemplate(
        "correction_answered",
        "VF_CORRECTION_ANSWERED",
        "您对${activity}服务记录的更正申请已答复：${answer}。详情：${url}",
    ),
    SmsTemplate(
        "correction_decided",
        "VF_CORRECTION_DECIDED",
        "您在${activity}的服务时长更正（${minutes}分钟）${result}。详情：${url}",
        _decision,
    ),
    SmsTemplate(
        "reminder_day",
        "VF_REMINDER_DAY",
        "提醒：明天${time}您在${event}（${post}）服务，地点${place}。不能参加请在“我的班次”取消：${url}",
    ),
    SmsTemplate(
        "reminder_soon",
        "VF_REMINDER_SOON",
        "您在${event}的${post}班次将于${time}在${place}开始，到场后请出示“我的志愿码”。",
    ),
    SmsTemplate(
        "thanks",
        "VF_THANKS",
        "感谢您参加${event}！负责人确认后计入服务时长${minutes}分钟。如有问题请告诉我们：${url}",
    ),
]

#: key -> template: the template table.
TEMPLATES: dict[str, SmsTemplate] = {row.key: row for row in _ROWS}


def get(key: str) -> SmsTemplate | None:
    return TEMPLATES.get(key)


def _short(name: str, value: str) -> str:
    if name == "url" or len(value) <= PARAM_MAX:
        return value
    return value[: PARAM_MAX - 1] + "…"


def params(template: SmsTemplate, payload: Mapping) -> dict[str, str]:
    """The parameter values, as strings, for exactly the template's parameters; a
    missing one is an empty string ("原因：。" reads better than a refused message)."""
    source = {**payload, **(template.derive(payload) if template.derive else {})}
    values = {}
    for name in template.params:
        value = source.get(name)
        values[name] = _short(name, "" if value is None else str(value).strip())
    return values


def fill(template: SmsTemplate, values: Mapping[str, str]) -> str:
    """The template text with the values in, as the provider will fill it."""
    return _PARAM.sub(lambda m: values.get(m.group(1), ""), template.text)


def signed(sign: str, text: str) -> str:
    """The text as the phone shows it: 【signature】 first."""
    sign = (sign or "").strip().strip("【】")
    return f"【{sign}】{text}" if sign else text


def code_for(template: SmsTemplate, overrides: object) -> str:
    """The provider's code: SMS_TEMPLATE_IDS (a dict or its JSON) wins over the default."""
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides)
        except ValueError:
            overrides = None
    if isinstance(overrides, dict) and overrides.get(template.key):
        return str(overrides[template.key])
    return template.code


def table() -> list[dict]:
    """The table as rows (code, text, parameters) for the admin page and the report."""
    return [
        {"key": t.key, "code": t.code, "text": t.text, "params": t.params, "capped": t.capped}
        for t in _ROWS
    ]
