"""The JSON API on a real twin-built book, on DuckDB and on a real PostgreSQL server.

Agents see only their own cases (others are 404), personal data is masked unless
revealed (audited), a contact the rules forbid cannot be recorded, bad input is a 422
naming the field and writes nothing, posting is idempotent, end of day runs as a job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from creditdesk.store import open_store
from creditdesk.web import WebConfig, create_app
from web_book import NEXT, PASSWORD, WebBook, build_web_book

pytestmark = pytest.mark.slow

#: 10:30 in Shanghai on the open business date: inside the calling hours
DAYTIME = datetime(NEXT.year, NEXT.month, NEXT.day, 2, 30, tzinfo=UTC)
#: 23:30 in Shanghai: quiet hours
NIGHT = DAYTIME + timedelta(hours=13)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def book(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[WebBook]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('web') / 'book.duckdb'}"
        yield build_web_book(url)
        return
    from pg_server import drop_database, fresh_database

    server = request.getfixturevalue("pg_server")
    url = fresh_database(server)
    yield build_web_book(url)
    drop_database(server, url)


def _client(book: WebBook, at: datetime = DAYTIME) -> TestClient:
    return TestClient(create_app(WebConfig(store_url=book.url, clock=lambda: at)))


def _login(client: TestClient, username: str) -> str:
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def _count(book: WebBook, table: str) -> int:
    store = open_store(book.url)
    try:
        return int(store.execute(f"SELECT count(*) FROM {table}")[0][0])  # type: ignore[call-overload]
    finally:
        store.close()


@pytest.fixture
def amy(book: WebBook) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with _client(book) as c:
        yield c, {"X-CSRF-Token": _login(c, "agent.amy")}


def test_the_queue_is_the_agents_own_cases_in_the_planners_order(
        book: WebBook, amy: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = amy
    got = client.get("/api/queue").json()
    ids = [c["case_id"] for c in got["cases"]]
    assert got["agent"] == "agent.amy" and got["business_date"] == NEXT.isoformat()
    assert sorted(ids) == sorted(book.amy_cases)
    planned = [c["planned_at"] for c in got["cases"] if c["planned_at"]]
    assert planned == sorted(planned) and planned, "planned calls first, in time order"
    first_unplanned = next((i for i, c in enumerate(got["cases"]) if not c["planned_at"]),
                           len(ids))
    assert all(c["planned_at"] is None for c in got["cases"][first_unplanned:])
    assert [c["position"] for c in got["cases"]] == list(range(1, len(ids) + 1))
    # the case list shows the same cases and nobody else's
    listed = {c["case_id"] for c in client.get("/api/cases?limit=1000").json()}
    assert listed == set(book.amy_cases)


def test_another_agents_case_account_and_customer_answer_404(
        book: WebBook, amy: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = amy
    other = book.bo_cases[0]
    assert client.get(f"/api/cases/{other}").status_code == 404
    assert client.get(f"/api/cases/{other}/may-contact").status_code == 404
    r = client.post(f"/api/cases/{other}/outcomes", json={"outcome": "no_answer"},
                    headers=headers)
    assert r.status_code == 404
    acc = other.split("-")[0]
    assert client.get(f"/api/accounts/{acc}").status_code == 404
    with _client(book) as sup:
        _login(sup, "super.sue")
        assert sup.get(f"/api/cases/{other}").status_code == 200
        assert sup.get(f"/api/accounts/{acc}").status_code == 200


def test_the_case_file_masks_personal_data_and_a_reveal_is_audited(
        book: WebBook, amy: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = amy
    case_id = book.amy_cases[0]
    r = client.get(f"/api/cases/{case_id}")
    assert r.status_code == 200
    body = r.json()
    cust = body["customer"]["customer_id"]
    store = open_store(book.url)
    phone = store.query("SELECT phone FROM customer_pii WHERE customer_id = ?", [cust]).item(0, 0)
    store.close()
    assert phone not in r.text and phone[3:] not in r.text
    assert "*" in body["customer"]["contact"]["phone"]
    assert body["account"]["account_id"] == body["case"]["account_id"]
    for key in ("statements", "dues", "plans", "transactions"):
        assert key in body["account"]
    no_reason = client.post(f"/api/customers/{cust}/reveal", json={"field": "phone"},
                            headers=headers)
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    shown = client.post(f"/api/customers/{cust}/reveal",
                        json={"field": "phone", "reason": "debtor asked for a call back"},
                        headers=headers)
    assert shown.status_code == 200 and shown.json()["value"] == phone
    with _client(book) as aud:
        _login(aud, "audit.al")
        log = aud.get("/api/audit", params={"subject_id": cust}).json()
        assert any(e["action"] == "reveal_pii" and e["username"] == "agent.amy" for e in log)
        views = aud.get("/api/audit", params={"subject_id": case_id}).json()
        assert any(e["action"] == "view_case" for e in views)
        assert aud.get("/api/audit/verify").json()["ok"] is True


def test_may_i_contact_now_and_a_blocked_call_cannot_be_recorded(book: WebBook) -> None:
    case_id = book.amy_cases[1]
    with _client(book, NIGHT) as night:
        headers = {"X-CSRF-Token": _login(night, "agent.amy")}
        answer = night.get(f"/api/cases/{case_id}/may-contact").json()
        assert answer["allowed"] is False
        assert answer["rule"] == "cn.quiet_hours"
        assert answer["next_allowed_at"].startswith(
            (NEXT + timedelta(days=1)).isoformat() + "T08:00")
        before = _count(book, "contacts")
        r = night.post(f"/api/cases/{case_id}/outcomes", json={"outcome": "connected"},
                       headers=headers)
        assert r.status_code == 409 and r.json()["check"]["rule"] == "cn.quiet_hours"
        assert _count(book, "contacts") == before


def test_a_promise_is_recorded_and_shows_in_the_case(
        book: WebBook, amy: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = amy
    case_id = book.amy_cases[2]
    before = (_count(book, "contacts"), _count(book, "promises"))
    due = (NEXT + timedelta(days=3)).isoformat()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"outcome": "promise", "promise_date": due, "promise_amount": 0}, "promise_amount"),
        ({"outcome": "promise", "promise_date": due, "promise_amount": 12.5}, "promise_amount"),
        ({"outcome": "promise", "promise_date": due, "promise_amount": "100"}, "promise_amount"),
        ({"outcome": "promise", "promise_date": "2020-01-01", "promise_amount": 100},
         "promise_date"),
        ({"outcome": "sang", "promise_amount": 100}, "outcome"),
    ]
    for payload, field in bad:
        r = client.post(f"/api/cases/{case_id}/outcomes", json=payload, headers=headers)
        assert r.status_code == 422, (payload, r.text)
        assert field in r.text
    r = client.post(f"/api/cases/{case_id}/outcomes", content=b'{"outcome": ',
                    headers={**headers, "content-type": "application/json"})
    assert r.status_code == 422
    assert (_count(book, "contacts"), _count(book, "promises")) == before
    r = client.post(f"/api/cases/{case_id}/outcomes",
                    json={"outcome": "promise", "promise_date": due, "promise_amount": 25_000},
                    headers=headers)
    assert r.status_code == 201, r.text
    assert (_count(book, "contacts"), _count(book, "promises")) == (before[0] + 1, before[1] + 1)
    case = client.get(f"/api/cases/{case_id}").json()
    assert case["contacts"][-1]["promise"] is True
    mine = [p for p in case["promises"] if p["promise_date"] == due]
    assert mine and mine[0]["amount"] == 25_000 and mine[0]["status"] == "open"


def test_a_dispute_sets_a_hold_that_stops_contact_until_a_supervisor_releases_it(
        book: WebBook, amy: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = amy
    case_id = book.amy_cases[3]
    r = client.post(f"/api/cases/{case_id}/outcomes",
                    json={"outcome": "dispute", "note": "says the purchase was not theirs"},
                    headers=headers)
    assert r.status_code == 201 and r.json()["hold"] == "dispute"
    answer = client.get(f"/api/cases/{case_id}/may-contact").json()
    assert answer["allowed"] is False and "dispute" in answer["rule"]
    cust = client.get(f"/api/cases/{case_id}").json()["case"]["customer_id"]
    assert client.post(f"/api/customers/{cust}/holds/dispute/release",
                       headers=headers).status_code == 403
    with _client(book) as sup:
        sh = {"X-CSRF-Token": _login(sup, "super.sue")}
        assert sup.post(f"/api/customers/{cust}/holds/dispute/release",
                        headers=sh).json()["released"] == 1
    assert client.get(f"/api/cases/{case_id}/may-contact").json()["allowed"] is True


def test_unsafe_requests_without_the_csrf_token_are_refused_and_write_nothing(
        book: WebBook, amy: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = amy
    before = _count(book, "contacts")
    r = client.post(f"/api/cases/{book.amy_cases[4]}/outcomes", json={"outcome": "no_answer"})
    assert r.status_code == 403
    assert _count(book, "contacts") == before


def test_roles_limit_what_each_user_may_do(book: WebBook,
                                           amy: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = amy
    txn = {"transactions": [{"external_id": "x1", "account_id": "R00000001",
                             "business_date": NEXT.isoformat(), "type": "repayment",
                             "amount": 100}]}
    assert client.post("/api/transactions", json=txn, headers=headers).status_code == 403
    assert client.post("/api/eod", json={"through": NEXT.isoformat()},
                       headers=headers).status_code == 403
    assert client.get("/api/audit").status_code == 403
    with _client(book) as anon:
        assert anon.get("/api/queue").status_code == 401
        assert anon.get(f"/api/cases/{book.amy_cases[0]}").status_code == 401


def test_posting_is_validated_all_or_nothing_and_idempotent(book: WebBook) -> None:
    acc = book.amy_cases[0].split("-")[0]
    good = {"external_id": "api-pay-1", "account_id": acc, "business_date": NEXT.isoformat(),
            "type": "repayment", "amount": 5_000}
    with _client(book) as admin:
        headers = {"X-CSRF-Token": _login(admin, "admin")}
        before = _count(book, "transactions")
        for amount in (0, -1, 1.5, "5000", None, 10**15 + 1, 2**63):  # 2**63: was a 500
            r = admin.post("/api/transactions", headers=headers,
                           json={"transactions": [{**good, "amount": amount}]})
            assert r.status_code == 422 and "amount" in r.text, (amount, r.text)
        r = admin.post("/api/transactions", headers=headers, json={"transactions": [
            good, {**good, "external_id": "api-pay-2", "account_id": "NO-SUCH"}]})
        assert r.status_code == 422 and "account_id" in r.text
        r = admin.post("/api/transactions", headers=headers, json={"transactions": [
            {**good, "business_date": "2026-01-05"}]})
        assert r.status_code == 422 and "business_date" in r.text
        assert _count(book, "transactions") == before
        r = admin.post("/api/transactions", headers=headers, json={"transactions": [good]})
        assert r.status_code == 201 and r.json() == {"posted": 1, "duplicates_skipped": 0}
        r = admin.post("/api/transactions", headers=headers, json={"transactions": [good]})
        assert r.json() == {"posted": 0, "duplicates_skipped": 1}
        assert _count(book, "transactions") == before + 1


def test_compliance_check_and_strategies(book: WebBook,
                                         amy: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = amy
    req = {"customer": {"timezone": "Asia/Shanghai"},
           "proposed": {"ts": "2026-03-02T23:30:00+08:00", "channel": "voice",
                        "number": "13800138000"}}
    r = client.post("/api/compliance/check", json=req)
    assert r.status_code == 200 and r.json()["allowed"] is False
    r = client.post("/api/compliance/check", json={**req, "customer": {"timezone": "Mars/X"}})
    assert r.status_code == 422 and "timezone" in r.text
    # a built-in profile by name; never a file on the server, never a 500 on a wild name
    assert client.get("/api/compliance/rules", params={"profile": "us"}).status_code == 200
    for wild in ("/etc/hostname", "../pyproject.toml", "0" * 30 + "\x80" * 300 + "İ"):
        r = client.get("/api/compliance/rules", params={"profile": wild})
        assert r.status_code == 422 and r.json()["field"] == "profile", (wild, r.text)
        r = client.post("/api/compliance/check", json=req, params={"profile": wild})
        assert r.status_code == 422 and r.json()["field"] == "profile", (wild, r.text)
    with _client(book) as ana:
        _login(ana, "ana.lyst")
        names = [s["name"] for s in ana.get("/api/strategies").json()]
        assert names == ["frequent", "bucket_rules", "optimized"]
        assert ana.get("/api/strategies/results").status_code == 404


def test_end_of_day_runs_as_a_job(book: WebBook, tmp_path: Path) -> None:
    """On a copy of its own (it closes a date)."""
    if book.url.startswith("duckdb"):
        url = f"duckdb:///{tmp_path / 'eod.duckdb'}"
        own = build_web_book(url)
    else:
        from pg_server import fresh_database, postgres_url

        own = build_web_book(fresh_database(postgres_url()))
    with _client(own) as admin:
        headers = {"X-CSRF-Token": _login(admin, "admin")}
        r = admin.post("/api/eod", json={"through": NEXT.isoformat()}, headers=headers)
        assert r.status_code == 202
        job = r.json()["job_id"]
        runner = admin.app.state.ctx.jobs_runner  # type: ignore[attr-defined]
        done = runner.wait(job, timeout=120)
        assert done.status == "done", done.error
        status = admin.get(f"/api/eod/{job}").json()
        assert status["closed"] == 1 and status["status"] == "done"
        assert admin.get("/api/eod").json()["last_closed"] == NEXT.isoformat()
        assert admin.get("/api/eod/nope").status_code == 404
        r = admin.post("/api/eod", json={"through": "not-a-date"}, headers=headers)
        assert r.status_code == 422 and "through" in json.dumps(r.json())
