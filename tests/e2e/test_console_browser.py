"""The console in a real browser: Debian's Chromium driven by Playwright against a real
uvicorn server on a loopback port, serving a twin-built book (``tests/web_book.py``).

An agent signs in, opens the queue and a case, sees the phone number masked (the full
number is nowhere in the page), gets a live "may I call now?" answer, records a promise
to pay and finds it in the contact history and the promises; another agent's case is
the 404 page. A risk analyst sees the portfolio charts drawn by plotly.js served from
``/static`` (no request leaves the machine). Screenshots go to
``test-artifacts/screenshots/`` (gitignored) for a person to look at.

Chromium is the system's (``/usr/bin/chromium``); ``playwright install`` is never run.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from creditdesk.store import open_store
from creditdesk.web import WebConfig, create_app
from web_book import NEXT, PASSWORD, WebBook, build_web_book

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: 10:30 in Shanghai on the open business date: inside the calling hours
DAYTIME = datetime(NEXT.year, NEXT.month, NEXT.day, 2, 30, tzinfo=UTC)
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> WebBook:
    return build_web_book(f"duckdb:///{tmp_path_factory.mktemp('browser') / 'book.duckdb'}")


@pytest.fixture(scope="module")
def server(book: WebBook) -> Iterator[str]:
    """The app under uvicorn in a thread, on a free loopback port; its base URL."""
    app = create_app(WebConfig(store_url=book.url, clock=lambda: DAYTIME))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Watch:
    """What the page asked the network for, and any script error or CSP violation."""

    def __init__(self, page: Any, base: str) -> None:
        self.hosts: set[str] = set()
        self.scripts: list[str] = []
        self.errors: list[str] = []
        self.base = base
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)

    def _request(self, request: Any) -> None:
        url = request.url
        if not url.startswith(("data:", "blob:", "about:")):
            self.hosts.add(urlsplit(url).netloc)
        if request.resource_type == "script":
            self.scripts.append(url)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and "status of 404" not in msg.text:
            self.errors.append(msg.text)


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("domcontentloaded")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _phone_of_case(book: WebBook, case_id: str) -> str:
    store = open_store(book.url)
    try:
        got = store.query("SELECT p.phone FROM customer_pii p JOIN cases c "
                          "ON c.customer_id = p.customer_id WHERE c.case_id = ?", [case_id])
        return str(got.item(0, 0))
    finally:
        store.close()


def test_an_agent_works_a_case_in_the_browser(book: WebBook, server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page, server)
    try:
        _sign_in(page, server, "agent.amy")
        assert urlsplit(page.url).path == "/queue"
        assert page.get_by_test_id("user").inner_text() == "agent.amy"
        links = page.get_by_test_id("case-link")
        assert links.count() == len(book.amy_cases)
        _shot(page, "01-agent-queue")

        case_id = links.first.inner_text().strip()
        links.first.click()
        page.wait_for_url(re.compile(rf"/cases/{re.escape(case_id)}$"))
        phone = _phone_of_case(book, case_id)
        html = page.content()
        digits = re.sub(r"\D", "", phone)
        assert phone not in html and digits not in html and digits[-8:] not in html
        shown = page.get_by_test_id("pii-phone").inner_text()
        assert "*" in shown and digits[-4:] in shown and "masked" in shown

        panel = page.get_by_test_id("may-contact")
        page.locator("#may-contact[data-checked='live']").wait_for()  # the live answer came
        answer = panel.locator("[data-field='answer']").inner_text()
        assert answer.startswith(("Yes", "No"))
        assert "Asia/Shanghai" in panel.locator("[data-field='at']").inner_text()

        due = (NEXT + timedelta(days=5)).isoformat()
        page.get_by_label("Outcome").select_option("promise")
        page.get_by_label("Promised date").fill(due)
        page.get_by_label(re.compile(r"^Amount")).fill("88.50")
        page.get_by_label("Note").fill("will pay after payday")
        page.get_by_role("button", name="Record outcome").click()
        page.wait_for_url(re.compile(r"done=outcome"))
        assert page.get_by_test_id("done").inner_text() == "Outcome recorded."
        first = page.get_by_test_id("contact-history").locator("tbody tr").first.inner_text()
        assert "agent" in first and "yes" in first
        promises = page.get_by_test_id("promises").inner_text()
        assert due in promises and "¥88.50" in promises and "open" in promises
        _shot(page, "02-agent-case-after-promise")

        other = book.bo_cases[0]
        response = page.goto(f"{server}/cases/{other}")
        assert response is not None and response.status == 404
        assert "Not found" in page.inner_text("main")
        _shot(page, "03-other-agents-case-404")

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/login"))
        assert watch.errors == []
        assert watch.hosts <= {urlsplit(server).netloc}
    finally:
        context.close()


def test_a_risk_analyst_sees_the_portfolio_charts(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    watch = Watch(page, server)
    try:
        _sign_in(page, server, "ana.lyst")
        assert urlsplit(page.url).path == "/portfolio"
        page.locator("#chart-balances svg.main-svg").first.wait_for()
        for chart in ("chart-mix-balance", "chart-mix-accounts", "chart-vintage30"):
            assert page.locator(f"#{chart} svg.main-svg").count() >= 1, chart
        assert page.evaluate("typeof window.Plotly") == "object"
        assert any(urlsplit(s).path == "/static/plotly.min.js" for s in watch.scripts)
        assert watch.hosts <= {urlsplit(server).netloc}, "a request left the machine"
        assert watch.errors == [], watch.errors
        _shot(page, "04-analyst-portfolio")
    finally:
        context.close()
