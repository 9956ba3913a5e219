"""One commit per request (hooks.commit_request) and one answer to a refusal no view caught
(errors.py): a request's changes land together after its view, or not at all."""

from __future__ import annotations

import pytest
from flask import Flask, abort
from sqlalchemy import func, select

from volunteer_app.extensions import csrf, db
from volunteer_app.hooks import writes
from volunteer_app.models import AuditLog
from volunteer_app.services import ServiceError, audit


def _count(action: str) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == action)
    )


@pytest.fixture
def probe(app: Flask):
    """Routes that write one audit row and then answer in different ways."""

    def write_then(outcome: str):
        def view():
            audit.record(f"probe.{outcome}", actor=None)
            db.session.flush()
            if outcome == "refused":
                raise ServiceError(["第一个原因", "第二个原因"])
            if outcome == "missing":
                abort(404)
            return "ok"

        view.__name__ = f"probe_{outcome}"
        return view

    for outcome in ("ok", "refused", "missing"):
        view = csrf.exempt(write_then(outcome))
        app.add_url_rule(f"/probe/{outcome}", view_func=view, methods=["POST"])
        app.add_url_rule(f"/api/v1/probe/{outcome}", view_func=view, methods=["POST"])
    app.add_url_rule("/probe/get-marked", view_func=writes(write_then("get")), methods=["GET"])
    return app


def test_a_write_request_that_answers_without_error_is_committed_after_its_view(probe):
    response = probe.test_client().post("/probe/ok")
    assert response.status_code == 200
    assert _count("probe.ok") == 1


def test_a_get_marked_writes_commits_too(probe):
    assert probe.test_client().get("/probe/get-marked").status_code == 200
    assert _count("probe.get") == 1


def test_an_error_answer_keeps_nothing_the_request_wrote(probe):
    assert probe.test_client().post("/probe/missing").status_code == 404
    assert _count("probe.missing") == 0


def test_a_refusal_no_view_caught_keeps_nothing_flashes_every_reason_and_goes_back(probe):
    client = probe.test_client()
    response = client.post("/probe/refused", headers={"Referer": "http://localhost/events/?q=1"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/events/?q=1")
    assert _count("probe.refused") == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "第一个原因" in page and "第二个原因" in page


def test_a_refusal_goes_back_only_to_this_site(probe):
    response = probe.test_client().post(
        "/probe/refused", headers={"Referer": "https://evil.example/phish"}
    )
    assert response.status_code == 303
    assert "evil.example" not in response.headers["Location"]


def test_a_refusal_under_the_api_answers_json_422(probe):
    response = probe.test_client().post("/api/v1/probe/refused")
    assert response.status_code == 422
    assert response.get_json()["error"]["message"] == "第一个原因 第二个原因"
    assert _count("probe.refused") == 0
