"""Local stand-ins for the outside services notifications go through: Aliyun SMS (a threaded
HTTP server on 127.0.0.1 that checks the request the way Dysmsapi does) and an SMTP server
(aiosmtpd). No account, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from aiosmtpd.controller import Controller

ACCESS_KEY_ID = "LTAI-test-key"
ACCESS_KEY_SECRET = "test-secret-Zx9"
SIGN_NAME = "志愿先行"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pop_signature(pairs: list[tuple[str, str]], secret: str) -> str:
    """Aliyun's signature v1 of the decoded query pairs, computed here independently of the
    application's code: urlencode with RFC 3986 quoting over the sorted pairs, then
    GET&%2F&<that, quoted again>, HMAC-SHA1 keyed with secret + "&", base64."""
    canonical = urlencode(sorted(pairs), quote_via=quote, safe="~")
    string_to_sign = "GET&%2F&" + quote(canonical, safe="~")
    digest = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Sent:
    phone: str
    code: str
    params: dict
    out_id: str


@dataclass
class FakeAliyun:
    """What the fake Dysmsapi accepted and refused; `answers` forces the next answers."""

    url: str = ""
    #: template code -> parameter names, as "approved" on this fake account
    approved: dict[str, set[str]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (Code, Message)
    answers: list[tuple[int, dict]] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)

    def reset(self) -> None:
        self.sent.clear()
        self.refused.clear()
        self.answers.clear()

    def to(self, phone: str) -> list[Sent]:
        return [s for s in self.sent if s.phone == phone]

    def check(self, pairs: list[tuple[str, str]]) -> tuple[int, dict]:
        params = dict(pairs)
        signature = params.pop("Signature", "")
        rest = [(k, v) for k, v in pairs if k != "Signature"]

        def refuse(status: int, code: str, message: str) -> tuple[int, dict]:
            self.refused.append((code, message))
            return status, {"Code": code, "Message": message, "RequestId": "fake"}

        if params.get("AccessKeyId") != ACCESS_KEY_ID:
            return refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not hmac.compare_digest(signature, pop_signature(rest, ACCESS_KEY_SECRET)):
            return refuse(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        fixed = {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "Format": "JSON",
        }
        for name, value in fixed.items():
            if params.get(name) != value:
                return refuse(400, "InvalidParameter", f"{name} must be {value}")
        try:
            stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return refuse(400, "InvalidTimeStamp.Format", "Timestamp is not ISO 8601 UTC.")
        if abs(datetime.now(UTC).replace(tzinfo=None) - stamp) > timedelta(minutes=15):
            return refuse(400, "InvalidTimeStamp.Expired", "Timestamp is stale.")
        nonce = params.get("SignatureNonce", "")
        if not nonce or nonce in self.nonces:
            return refuse(400, "SignatureNonceUsed", "The nonce has been used.")
        self.nonces.add(nonce)
        if params.get("SignName") != SIGN_NAME:
            return refuse(200, "isv.SMS_SIGNATURE_ILLEGAL", "签名不合法")
        if not re.fullmatch(r"1[3-9]\d{9}", params.get("PhoneNumbers", "")):
            return refuse(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        code = params.get("TemplateCode", "")
        if code not in self.approved:
            return refuse(200, "isv.SMS_TEMPLATE_ILLEGAL", "模板不合法（不存在或被拉黑）")
        try:
            values = json.loads(params.get("TemplateParam", ""))
        except ValueError:
            return refuse(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
        if not isinstance(values, dict) or set(values) != self.approved[code]:
            return refuse(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        if any(len(str(v)) > 35 for k, v in values.items() if k != "url"):
            return refuse(200, "isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        if self.answers:
            return self.answers.pop(0)
        self.sent.append(Sent(params["PhoneNumbers"], code, values, params.get("OutId", "")))
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"biz{len(self.sent):06d}",
            "RequestId": "fake",
        }


def start_aliyun() -> tuple[FakeAliyun, ThreadingHTTPServer, threading.Thread]:
    fake = FakeAliyun()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            pairs = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
            status, body = fake.check(pairs)
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    return fake, server, thread


def stop(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


class Mailbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[str]:
        """The text of each mail to the address."""
        texts = []
        for envelope in self.envelopes:
            if address in envelope.rcpt_tos:
                message = message_from_bytes(envelope.original_content, policy=email_policy.default)
                texts.append(message.get_content())
        return texts


def start_smtp() -> tuple[Mailbox, Controller]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return mailbox, controller
