"""SMS backends behind one interface: the log (development), a plain HTTP gateway, and
Aliyun SMS (Dysmsapi SendSms, the template model Chinese providers require).

A backend is built from the configuration (`backend_for`) and has one method, ``send``,
which takes an `SmsMessage` and returns the provider's reference for it (or None), or
raises `channels.DeliveryError` with the provider's reason (`PermanentDeliveryError` when
retrying cannot help: a bad number, a template the provider refuses). Only stdlib.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, urlsplit

from flask_babel import lazy_gettext as _l

from .channels import ChannelUnavailable, DeliveryError, PermanentDeliveryError, split_sms

log = logging.getLogger("volunteer_app.notify")


@dataclass(frozen=True)
class SmsMessage:
    """One SMS to one phone: the template (code and values) and the text it becomes."""

    phone: str
    text: str  #: what the phone shows, signature included
    sign: str  #: the signature's name, without 【】
    template_code: str | None  #: None for free text
    params: dict[str, str] = field(default_factory=dict)
    out_id: str = ""  #: our id for the message (the outbox row)


class SmsBackend(Protocol):
    name: str
    #: Whether the backend can send a text that is not an approved template.
    allows_free_text: bool

    def send(self, message: SmsMessage) -> str | None: ...


# ---------------------------------------------------------------- log


class LogBackend:
    """Development: the text goes to the log (and /dev/messages shows the outbox)."""

    name = "log"
    allows_free_text = True

    def send(self, message: SmsMessage) -> str | None:
        log.warning("SMS to %s: %s", message.phone, message.text)
        return None


# ---------------------------------------------------------------- plain HTTP gateway


def _provider_message(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    try:
        answer = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(answer, dict):
        for key in ("error", "message", "msg", "Message"):
            if answer.get(key):
                return str(answer[key])
    return text[:300]


class HttpGatewayBackend:
    """POST each part of the text as JSON to SMS_GATEWAY_URL, in order, with
    "Authorization: Bearer SMS_API_KEY"; the gateway sends text as it is."""

    name = "http"
    allows_free_text = True

    def __init__(self, url: str | None, api_key: str | None, timeout: float) -> None:
        if not url:
            raise ChannelUnavailable("The SMS gateway is not configured (SMS_GATEWAY_URL).")
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ChannelUnavailable("SMS_GATEWAY_URL must be an http(s) URL.")
        self.url, self.api_key, self.timeout = url, api_key, timeout

    def _post(self, body: dict) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read(65536)
        except urllib.error.HTTPError as error:
            message = _provider_message(error.read(65536))
            raise DeliveryError(f"SMS gateway answered {error.code}: {message}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryError(f"SMS gateway unreachable: {reason}") from None
        try:
            answer = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except ValueError:
            return  # a 2xx without JSON counts as accepted
        if isinstance(answer, dict) and answer.get("ok") is False:
            raise DeliveryError(f"SMS gateway refused: {_provider_message(raw)}")

    def send(self, message: SmsMessage) -> str | None:
        for part in split_sms(message.text):
            self._post(
                {
                    "phone": message.phone,
                    "text": part,
                    "sign": message.sign,
                    "template_id": message.template_code,
                    "template_params": message.params,
                }
            )
        return None


# ---------------------------------------------------------------- Aliyun SMS

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
#: Aliyun's answers that retrying cannot fix (the others, such as isv.BUSINESS_LIMIT_CONTROL
#: or isp.SYSTEM_ERROR, are tried again with back-off).
ALIYUN_PERMANENT = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.SMS_SIGN_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.DENY_IP_RANGE",
    }
)


def percent_encode(value: str) -> str:
    """Aliyun's POP encoding: RFC 3986, UTF-8, space as %20, '*' as %2A, '~' kept."""
    return quote(value, safe="~")


def canonical_query(params: Mapping[str, str]) -> str:
    """The parameters sorted by name, each name and value percent-encoded, joined by '&'."""
    return "&".join(
        f"{percent_encode(k)}={percent_encode(str(v))}" for k, v in sorted(params.items())
    )


def aliyun_signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """Signature version 1.0: base64(HMAC-SHA1(secret + "&",
    method + "&%2F&" + percent_encode(canonical query)))."""
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunBackend:
    """Aliyun SMS: a signed GET of Action=SendSms (API version 2017-05-25) with the sign
    name, the template code and the parameters as JSON; the answer's Code is "OK" or the
    reason (the BizId comes back as the reference)."""

    name = "aliyun"
    allows_free_text = False

    def __init__(
        self,
        access_key_id: str | None,
        secret: str | None,
        *,
        endpoint: str | None = None,
        region: str = "cn-hangzhou",
        timeout: float = 10,
    ) -> None:
        if not access_key_id or not secret:
            raise ChannelUnavailable(
                "Aliyun SMS needs SMS_ALIYUN_ACCESS_KEY_ID and SMS_ALIYUN_ACCESS_KEY_SECRET."
            )
        self.key_id, self.secret = access_key_id, secret
        self.endpoint = endpoint or ALIYUN_ENDPOINT
        if urlsplit(self.endpoint).scheme not in {"http", "https"}:
            raise ChannelUnavailable("SMS_ALIYUN_ENDPOINT must be an http(s) URL.")
        self.region, self.timeout = region, timeout

    def request_params(self, message: SmsMessage, *, now: datetime | None = None) -> dict:
        now = now or datetime.now(UTC)
        params = {
            "AccessKeyId": self.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.phone,
            "RegionId": self.region,
            "SignName": message.sign,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": secrets.token_hex(16),
            "SignatureVersion": "1.0",
            "TemplateCode": message.template_code or "",
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        if message.out_id:
            params["OutId"] = message.out_id
        return params

    def url(self, params: Mapping[str, str]) -> str:
        signature = aliyun_signature(params, self.secret)
        base = self.endpoint if self.endpoint.endswith("/") else self.endpoint + "/"
        return f"{base}?Signature={percent_encode(signature)}&{canonical_query(params)}"

    def send(self, message: SmsMessage) -> str | None:
        if not message.template_code:
            raise PermanentDeliveryError(
                "Aliyun SMS sends only approved templates; this message is free text."
            )
        request = urllib.request.Request(  # noqa: S310
            self.url(self.request_params(message)), headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read(65536)
        except urllib.error.HTTPError as error:
            raw = error.read(65536)
            if not raw.strip():
                raise DeliveryError(f"Aliyun SMS answered {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryError(f"Aliyun SMS unreachable: {reason}") from None
        try:
            answer = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise DeliveryError(f"Aliyun SMS answered: {raw[:300]!r}") from None
        code = str(answer.get("Code", "")) if isinstance(answer, dict) else ""
        if code == "OK":
            return str(answer.get("BizId") or "") or None
        reason = f"Aliyun {code or '?'}: {answer.get('Message', '') if code else raw[:300]!r}"
        if code in ALIYUN_PERMANENT:
            raise PermanentDeliveryError(reason)
        raise DeliveryError(reason)


# ---------------------------------------------------------------- choosing one

BACKENDS = ("log", "http", "aliyun")


def backend_name(config: Mapping) -> str:
    return (config.get("SMS_BACKEND") or "log").strip().lower()


def backend_for(config: Mapping) -> SmsBackend:
    """The SMS_BACKEND, configured; ChannelUnavailable when it cannot be."""
    name = backend_name(config)
    timeout = float(config.get("SMS_TIMEOUT") or 10)
    if name == "log":
        return LogBackend()
    if name == "http":
        return HttpGatewayBackend(config.get("SMS_GATEWAY_URL"), config.get("SMS_API_KEY"), timeout)
    if name == "aliyun":
        return AliyunBackend(
            config.get("SMS_ALIYUN_ACCESS_KEY_ID"),
            config.get("SMS_ALIYUN_ACCESS_KEY_SECRET"),
            endpoint=config.get("SMS_ALIYUN_ENDPOINT"),
            region=config.get("SMS_ALIYUN_REGION") or "cn-hangzhou",
            timeout=timeout,
        )
    raise ChannelUnavailable(f"Unknown SMS_BACKEND {name!r} (use 'log', 'http' or 'aliyun').")


def allows_free_text(config: Mapping) -> bool:
    """Whether the configured provider sends a text that is not an approved template."""
    return backend_name(config) in {"log", "http"}


def free_text_refusal(config: Mapping) -> str | None:
    """Why an organiser's own text cannot go out by SMS here, or None if it can."""
    if allows_free_text(config):
        return None
    return str(
        _l(
            "The SMS provider sends only texts approved beforehand (templates), so a message "
            "you write yourself cannot go out by SMS. It reaches the volunteers in the app "
            "and by e-mail; those who read only SMS will not get it."
        )
    )
