"""The console's pages through FastAPI's TestClient on a real twin-built book (DuckDB).

Signed in through the sign-in form as a browser would be: agents see their own queue
and cases (another agent's case is the 404 page), personal data is masked in the HTML,
forms need the CSRF token, an outcome is recorded exactly (Decimal amounts) and a
refusal (rules, policy, bad input) changes nothing and says why, every view and action
is audited, and the portfolio, lab, audit and users pages answer by role. The
portfolio figures are also computed on PostgreSQL and must equal DuckDB's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from creditdesk.store import open_store
from creditdesk.web import WebConfig, create_app
from web_book import NEXT, PASSWORD, WebBook, build_web_book

pytestmark = pytest.mark.slow

#: 10:30 in Shanghai on the open business date; 23:30 is in the quiet hours
DAYTIME = datetime(NEXT.year, NEXT.month, NEXT.day, 2, 30, tzinfo=UTC)
NIGHT = DAYTIME + timedelta(hours=13)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> WebBook:
    return build_web_book(f"duckdb:///{tmp_path_factory.mktemp('console') / 'book.duckdb'}")


def _client(book: WebBook, at: datetime = DAYTIME, results: Path | None = None) -> TestClient:
    return TestClient(create_app(WebConfig(store_url=book.url, clock=lambda: at,
                                           results=results)))


def _sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    token = _CSRF.search(page.text)
    assert token, page.text
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/",
                                    "csrf_token": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def _scalar(book: WebBook, sql: str, params: list[object] | None = None) -> object:
    store = open_store(book.url)
    try:
        return store.execute(sql, params or [])[0][0]
    finally:
        store.close()


def _audit(book: WebBook, action: str, subject_id: str) -> list[dict[str, object]]:
    from creditdesk.web.audit import read_audit

    store = open_store(book.url)
    try:
        return read_audit(store, action=action, subject_id=subject_id)
    finally:
        store.close()


@pytest.fixture
def amy(book: WebBook) -> Iterator[TestClient]:
    with _client(book) as c:
        _sign_in(c, "agent.amy")
        yield c


def test_pages_need_a_session_and_each_role_starts_on_its_page(book: WebBook) -> None:
    with _client(book) as c:
        r = c.get("/queue", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fqueue"
        _sign_in(c, "agent.amy")
        assert c.get("/", follow_redirects=False).headers["location"] == "/queue"
        page = c.get("/queue")
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "agent.amy" in page.text and "collections agent" in page.text
        assert 'action="/logout"' in page.text and _csrf(page.text)
        assert c.get("/portfolio").status_code == 403
        assert c.get("/lab").status_code == 403 and c.get("/audit").status_code == 403
    with _client(book) as c:
        _sign_in(c, "ana.lyst")
        assert c.get("/", follow_redirects=False).headers["location"] == "/portfolio"


def test_the_queue_is_the_agents_own_cases_in_the_planners_order(
        book: WebBook, amy: TestClient) -> None:
    api = amy.get("/api/queue").json()
    page = amy.get("/queue")
    shown = re.findall(r'href="/cases/([^"]+)" data-testid="case-link"', page.text)
    assert shown == [c["case_id"] for c in api["cases"]]
    assert sorted(shown) == sorted(book.amy_cases)
    assert "Asia/Shanghai" in page.text  # planned calls in the customer's local time
    assert "¥" in page.text
    with _client(book) as sup:
        _sign_in(sup, "super.sue")
        other = sup.get("/queue", params={"agent": "agent.bo"}).text
        assert sorted(re.findall(r'data-testid="case-link">([^<]+)<', other)) == sorted(
            book.bo_cases)
        assert sup.get("/cases").status_code == 200


def test_the_case_page_masks_personal_data_and_is_audited(book: WebBook,
                                                           amy: TestClient) -> None:
    case_id = book.amy_cases[0]
    page = amy.get(f"/cases/{case_id}")
    assert page.status_code == 200
    cust = str(_scalar(book, "SELECT customer_id FROM cases WHERE case_id = ?", [case_id]))
    phone = str(_scalar(book, "SELECT phone FROM customer_pii WHERE customer_id = ?", [cust]))
    idno = str(_scalar(book, "SELECT id_number FROM customer_pii WHERE customer_id = ?", [cust]))
    digits = re.sub(r"\D", "", phone)
    assert phone not in page.text and digits not in page.text and digits[-8:] not in page.text
    assert idno not in page.text
    assert re.search(r'data-testid="pii-phone">\s*\+?[\d ]*\*{3,}', page.text)
    for section in ("customer", "accounts", "bills", "schedule", "payments", "contacts",
                    "promises", "holds", "may-contact", "record", "offer"):
        assert f'id="{section}"' in page.text, section
    assert "May I call now?" in page.text
    assert _audit(book, "view_case", case_id)


def test_another_agents_case_is_the_404_page(book: WebBook, amy: TestClient) -> None:
    other = book.bo_cases[0]
    for r in (amy.get(f"/cases/{other}"), amy.get("/cases/no-such-case")):
        assert r.status_code == 404
        assert "Not found" in r.text
        assert 'href="/queue"' in r.text  # the page keeps the navigation
    token = _csrf(amy.get("/queue").text)
    r = amy.post(f"/cases/{other}/outcome", data={"csrf_token": token, "outcome": "no_answer"},
                 follow_redirects=False)
    assert r.status_code == 404
    cust = str(_scalar(book, "SELECT customer_id FROM cases WHERE case_id = ?", [other]))
    r = amy.post(f"/customers/{cust}/reveal",
                 data={"csrf_token": token, "case_id": other, "field": "phone", "reason": "x"})
    assert r.status_code == 404


def test_a_promise_is_recorded_exactly_and_shows_in_history_and_promises(
        book: WebBook, amy: TestClient) -> None:
    case_id = book.amy_cases[2]
    page = amy.get(f"/cases/{case_id}")
    token = _csrf(page.text)

    def counts() -> tuple[object, object]:
        return (_scalar(book, "SELECT count(*) FROM contacts"),
                _scalar(book, "SELECT count(*) FROM promises"))

    before = counts()
    due = (NEXT + timedelta(days=3)).isoformat()
    for amount, field in (("12.345", "promise_amount"), ("-3", "promise_amount"),
                          ("1e3", "promise_amount"), ("", "promise_amount")):
        r = amy.post(f"/cases/{case_id}/outcome",
                     data={"csrf_token": token, "outcome": "promise", "promise_date": due,
                           "promise_amount": amount})
        assert r.status_code == 422 and field in r.text and 'role="alert"' in r.text
    r = amy.post(f"/cases/{case_id}/outcome",
                 data={"csrf_token": token, "outcome": "promise", "promise_date": "2020-01-01",
                       "promise_amount": "10"})
    assert r.status_code == 422 and "promise_date" in r.text
    r = amy.post(f"/cases/{case_id}/outcome", data={"outcome": "promise"})
    assert r.status_code == 403  # no CSRF token: refused before anything runs
    assert counts() == before
    r = amy.post(f"/cases/{case_id}/outcome",
                 data={"csrf_token": token, "outcome": "promise", "promise_date": due,
                       "promise_amount": "1,234.56", "note": "pays on Friday"},
                 follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/cases/{case_id}?done=outcome#contacts"
    stored = _scalar(book, "SELECT amount FROM promises WHERE promise_date = ? AND "
                     "account_id = (SELECT account_id FROM cases WHERE case_id = ?)",
                     [NEXT + timedelta(days=3), case_id])
    assert stored == 123456 and isinstance(stored, int)
    shown = amy.get(r.headers["location"]).text
    assert "Outcome recorded." in shown
    promises = shown[shown.index('data-testid="promises"'):]
    assert "¥1,234.56" in promises[:promises.index("</table>")]
    assert "badge-open" in promises[:promises.index("</table>")]
    history = shown[shown.index('data-testid="contact-history"'):]
    body = history[history.index("<tbody>"):]
    first_row = body[:body.index("</tr>")]
    assert "agent" in first_row and "yes" in first_row
    logged = _audit(book, "record_outcome", case_id)
    assert logged and logged[0]["detail"]["promise_amount"] == 123456  # type: ignore[index]


def test_a_call_in_the_quiet_hours_is_refused_with_the_rule_and_next_time(
        book: WebBook) -> None:
    case_id = book.amy_cases[1]
    with _client(book, NIGHT) as night:
        _sign_in(night, "agent.amy")
        page = night.get(f"/cases/{case_id}")
        assert "No: a call is blocked now." in page.text and "cn.quiet_hours" in page.text
        tomorrow = (NEXT + timedelta(days=1)).isoformat()
        assert f"{tomorrow} 08:00 Asia/Shanghai" in page.text
        before = _scalar(book, "SELECT count(*) FROM contacts")
        r = night.post(f"/cases/{case_id}/outcome",
                       data={"csrf_token": _csrf(page.text), "outcome": "connected"})
        assert r.status_code == 409 and "cn.quiet_hours" in r.text
        assert _scalar(book, "SELECT count(*) FROM contacts") == before
        assert _audit(book, "record_outcome_blocked", case_id)


def test_a_dispute_note_is_escaped_and_sets_a_hold(book: WebBook, amy: TestClient) -> None:
    case_id = book.amy_cases[3]
    token = _csrf(amy.get(f"/cases/{case_id}").text)
    r = amy.post(f"/cases/{case_id}/outcome",
                 data={"csrf_token": token, "outcome": "dispute",
                       "note": "<script>alert(1)</script> not mine"})
    assert r.status_code == 200  # followed the redirect
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; not mine" in r.text
    assert "No: a call is blocked now." in r.text and "dispute" in r.text


def _opened_days_before(book: WebBook, case_id: str, days: int) -> None:
    """Set the case's account opening date (the policy wants hardship accounts 270+ days
    old; the twin's accounts may be younger or older, so each test says which it needs)."""
    store = open_store(book.url)
    try:
        store.execute("UPDATE accounts SET opened = ? WHERE account_id = "
                      "(SELECT account_id FROM cases WHERE case_id = ?)",
                      [NEXT - timedelta(days=days), case_id])
    finally:
        store.close()


def test_an_arrangement_outside_policy_is_refused_with_the_rule(book: WebBook,
                                                                 amy: TestClient) -> None:
    case_id = book.amy_cases[4]
    _opened_days_before(book, case_id, 60)
    token = _csrf(amy.get(f"/cases/{case_id}").text)
    before = _scalar(book, "SELECT count(*) FROM transactions")
    r = amy.post(f"/cases/{case_id}/plan",
                 data={"csrf_token": token, "kind": "hardship_plan", "terms": "13"})
    assert r.status_code == 422 and "terms must be a whole number from 3 to 12" in r.text
    r = amy.post(f"/cases/{case_id}/plan",
                 data={"csrf_token": token, "kind": "hardship_plan", "terms": "6"})
    assert r.status_code == 422 and "hardship_plan.min_account_age_days" in r.text
    r = amy.post(f"/cases/{case_id}/plan",
                 data={"csrf_token": token, "kind": "settlement", "amount": "1.001"})
    assert r.status_code == 422 and "amount must have at most 2 decimal places" in r.text
    assert _scalar(book, "SELECT count(*) FROM transactions") == before
    assert _audit(book, "offer_plan_refused", case_id)


def test_a_hardship_plan_within_policy_is_offered(book: WebBook, amy: TestClient) -> None:
    assert len(book.amy_cases) > 6
    case_id = book.amy_cases[-1]
    _opened_days_before(book, case_id, 400)
    token = _csrf(amy.get(f"/cases/{case_id}").text)
    before = _scalar(book, "SELECT count(*) FROM transactions")
    r = amy.post(f"/cases/{case_id}/plan",
                 data={"csrf_token": token, "kind": "hardship_plan", "terms": "6"},
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/cases/{case_id}?done=plan#arrangements"
    assert _scalar(book, "SELECT count(*) FROM transactions") == int(before) + 1  # type: ignore[call-overload]
    page = amy.get(r.headers["location"]).text
    section = page[page.index('id="arrangements"'):]
    assert "hardship plan" in section[:section.index("</section>")]
    logged = _audit(book, "offer_plan", case_id)
    assert logged and logged[0]["detail"]["terms"] == 6  # type: ignore[index]


def test_a_reveal_needs_a_reason_and_is_audited(book: WebBook, amy: TestClient) -> None:
    case_id = book.amy_cases[5]
    page = amy.get(f"/cases/{case_id}")
    cust = str(_scalar(book, "SELECT customer_id FROM cases WHERE case_id = ?", [case_id]))
    phone = str(_scalar(book, "SELECT phone FROM customer_pii WHERE customer_id = ?", [cust]))
    data = {"csrf_token": _csrf(page.text), "case_id": case_id, "field": "phone"}
    r = amy.post(f"/customers/{cust}/reveal", data={**data, "reason": "  "})
    assert r.status_code == 422 and "reason is required" in r.text and phone not in r.text
    assert not _audit(book, "reveal_pii", cust)
    r = amy.post(f"/customers/{cust}/reveal", data={**data, "reason": "customer asked"})
    assert r.status_code == 200 and phone in r.text
    assert r.headers["cache-control"] == "no-store"
    logged = _audit(book, "reveal_pii", cust)
    assert logged and logged[0]["detail"] == {"field": "phone", "reason": "customer asked"}
    assert phone not in amy.get(f"/cases/{case_id}").text  # masked again on the next view


def test_the_portfolio_page_draws_its_charts_from_the_books(book: WebBook) -> None:
    with _client(book) as c:
        _sign_in(c, "ana.lyst")
        page = c.get("/portfolio")
        assert page.status_code == 200
        assert 'src="/static/plotly.min.js?v=' in page.text and "cdn" not in page.text.lower()
        blocks = re.findall(r'<script type="application/json" data-figure="([^"]+)">(.*?)'
                            r"</script>", page.text, re.S)
        ids = [b[0] for b in blocks]
        assert {"chart-balances", "chart-mix-balance", "chart-mix-accounts",
                "chart-vintage30"} <= set(ids)
        for _, text in blocks:
            fig = json.loads(text)
            assert fig["data"] and "layout" in fig
        total = int(_scalar(book, "SELECT sum(principal + interest + fee + penalty) FROM "  # type: ignore[call-overload]
                            "account_day WHERE business_date = ?", [book.last_closed]))
        from creditdesk.web.console.formatting import format_money

        assert f'data-testid="total-balance">{format_money(total)}<' in page.text
        js = c.get("/static/plotly.min.js")
        assert js.status_code == 200 and "max-age=31536000" in js.headers["cache-control"]
        from creditdesk.web.console import plotly_js_path

        assert len(js.content) == plotly_js_path().stat().st_size
        assert c.get("/static/console.css").status_code == 200
        assert c.get("/static/console.js").status_code == 200


def test_the_lab_shows_an_empty_state_then_the_comparison(book: WebBook,
                                                          tmp_path: Path) -> None:
    with _client(book) as c:
        _sign_in(c, "ana.lyst")
        page = c.get("/lab")
        assert page.status_code == 200 and "No comparison loaded" in page.text
    summary = {"mean": 0.5, "ci95": [0.4, 0.6], "n": 3}
    money = {"mean": 123456.0, "ci95": [100000.0, 150000.0], "n": 3}
    figures = {m: summary for m in ("recovery_rate", "roll_rate_m1_m2",
                                    "contacts_per_delinquent_account", "violations")}
    result = {"strategies": {"frequent": {**figures, "net_recovery": money},
                             "optimized": {**figures, "net_recovery": money}},
              "arms": {"optimized": {"champion": figures, "challenger": figures}},
              "customers": 200, "days": 45, "seeds": [1, 2, 3], "scenario": "baseline"}
    path = tmp_path / "compare.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    with _client(book, results=path) as c:
        _sign_in(c, "ana.lyst")
        page = c.get("/lab").text
        assert "compare.json" in page and "0.5 [0.4, 0.6]" in page
        assert "¥1,234.56 [¥1,000.00, ¥1,500.00]" in page
        assert page.count('data-testid="chart"') == 5 * 2  # per strategy, and per arm
        fig = json.loads(re.search(r'data-figure="run0-recovery_rate">(.*?)</script>', page,
                                   re.S).group(1))  # type: ignore[union-attr]
        assert fig["data"][0]["error_y"]["array"] == [pytest.approx(0.1)] * 2


def test_the_audit_log_and_users_pages_by_role(book: WebBook) -> None:
    with _client(book) as c:
        _sign_in(c, "audit.al")
        page = c.get("/audit", params={"verify": "true"})
        assert page.status_code == 200 and "The hash chain holds" in page.text
        assert "login" in page.text
        assert c.get("/users").status_code == 200
        assert c.get("/audit", params={"since": "yesterday"}).status_code == 422
    with _client(book) as c:
        _sign_in(c, "admin")
        assert c.get("/users").status_code == 200 and c.get("/audit").status_code == 403


def test_portfolio_figures_are_the_same_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    from creditdesk.reports.portfolio import portfolio

    fresh = build_web_book(f"duckdb:///{tmp_path / 'fresh.duckdb'}")  # untouched by the tests
    duck = open_store(fresh.url)
    try:
        expected = portfolio(duck)
    finally:
        duck.close()
    build_web_book(pg_url)
    pg = open_store(pg_url)
    try:
        got = portfolio(pg)
    finally:
        pg.close()
    assert got == expected and got.balances and got.vintages and got.rolls["buckets"]
