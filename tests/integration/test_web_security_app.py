"""The security core on a real store (DuckDB file and PostgreSQL database) behind FastAPI:
sign-in and cookies, CSRF, permissions, expiry, the audit chain, PII reveal, and the
``creditdesk user`` commands.

The app here is a tiny one with only the security routers, so these tests say nothing
about the rest of the console. Argon2 runs with cheap parameters (except where the
rehash is the point): the cost is argon2-cffi's business, not ours.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI, Form
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from creditdesk.customers.pii import customer_contact, ensure_pii_table, reveal_pii, upsert_pii
from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.store import open_store
from creditdesk.store.base import Store
from creditdesk.web import users as users_mod
from creditdesk.web.auth_routes import audit_router, auth_router, users_router
from creditdesk.web.deps import (
    COOKIE,
    LOGIN_COOKIE,
    csrf_protect,
    current_user,
    install_security,
)
from creditdesk.web.errors import ForbiddenError
from creditdesk.web.security import (
    User,
    add_user,
    audit,
    authenticate,
    create_session,
    ensure_web_tables,
    get_user,
    read_audit,
    verify_audit_chain,
)
from creditdesk.web.sessions import SessionCache
from creditdesk.web.users_cli import user_app

PW = "correct horse battery"
USERS = {"root.admin": "admin", "ann": "collections_agent", "bob": "collections_agent",
         "sue": "supervisor", "aud": "auditor", "ria": "risk_analyst"}
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Ctx:
    """What the real app keeps in ``app.state.ctx``: one store per thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Store] = []
        self.sessions = SessionCache()  # the server's default: sessions kept 2 s

    def store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.url)
            self._local.store = store
            with self._lock:
                self._all.append(store)
        return store

    def close(self) -> None:
        for s in self._all:
            s.close()


def make_app(ctx: Ctx) -> FastAPI:
    app = FastAPI()
    app.state.ctx = ctx
    install_security(app)
    for router in (auth_router, audit_router, users_router):
        app.include_router(router)

    @app.get("/cases/{case_id}")
    def case_page(case_id: str, user: User = Depends(current_user)) -> dict[str, str]:
        return {"case": case_id, "user": user.username}

    @app.post("/cases/{case_id}/notes", dependencies=[Depends(csrf_protect)])
    def add_note(case_id: str, note: Annotated[str, Form()],
                 user: User = Depends(current_user)) -> dict[str, str]:
        return {"case": case_id, "note": note, "user": user.username}

    return app


def _new_url(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if request.param == "duckdb":
        yield f"duckdb:///{folder}/web.duckdb"
        return
    server = request.getfixturevalue("pg_server")
    from pg_server import drop_database, fresh_database

    url = fresh_database(server)
    yield url
    drop_database(server, url)


@pytest.fixture(scope="module", autouse=True)
def cheap_hashing() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users_mod, "_HASHER", CHEAP)
        users_mod._dummy_hash.cache_clear()
        yield
    users_mod._dummy_hash.cache_clear()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def ctx(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        cheap_hashing: None) -> Iterator[Ctx]:
    """One store per backend for the module, with a user of each role."""
    for url in _new_url(request, tmp_path_factory.mktemp("web")):
        c = Ctx(url)
        store = c.store()
        ensure_web_tables(store)
        ensure_pii_table(store)
        for name, role in USERS.items():
            add_user(store, name, role, PW)
        yield c
        c.close()


@pytest.fixture
def store(ctx: Ctx) -> Store:
    return ctx.store()


@pytest.fixture
def client(ctx: Ctx) -> Iterator[TestClient]:
    with TestClient(make_app(ctx)) as c:
        yield c


@pytest.fixture(params=["duckdb", "postgres"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ctx]:
    """A store of this test's own (for tests that tamper with it)."""
    for url in _new_url(request, tmp_path):
        c = Ctx(url)
        ensure_web_tables(c.store())
        yield c
        c.close()


def login(client: TestClient, username: str, password: str = PW) -> str:
    r = client.post("/api/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def last_seq(store: Store) -> int:
    rows = store.execute("SELECT max(seq) FROM audit_log")
    return int(rows[0][0] or 0)  # type: ignore[call-overload]


def audit_since(store: Store, seq: int) -> list[dict[str, Any]]:
    return [r for r in read_audit(store, limit=1000) if r["seq"] > seq]


def n_users(store: Store) -> int:
    return int(store.execute("SELECT count(*) FROM users")[0][0])  # type: ignore[call-overload]


# ---- signing in ------------------------------------------------------------------------

def test_login_sets_a_strict_httponly_cookie_and_returns_the_csrf_token(
        client: TestClient, store: Store) -> None:
    before = last_seq(store)
    r = client.post("/api/session", json={"username": "ann", "password": PW})
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "ann" and body["role"] == "collections_agent"
    assert len(body["csrf_token"]) >= 40 and "record_outcome" in body["permissions"]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    low = cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "path=/" in low
    assert "max-age=28800" in low and "secure" not in low  # plain http in the test
    rows = audit_since(store, before)
    assert [(r["action"], r["username"], r["client"]) for r in rows] == [
        ("login", "ann", "testclient")]
    who = client.get("/api/session").json()
    assert who["username"] == "ann" and who["csrf_token"] == body["csrf_token"]


def test_bad_password_is_401_and_audited_without_the_password(client: TestClient,
                                                               store: Store) -> None:
    before = last_seq(store)
    wrong = "wrong horse battery staple"
    r = client.post("/api/session", json={"username": "ann", "password": wrong})
    assert r.status_code == 401 and r.json()["detail"] == "bad username or password"
    assert COOKIE not in r.cookies
    unknown = client.post("/api/session", json={"username": "nobody", "password": wrong})
    assert unknown.status_code == 401 and unknown.json() == r.json()  # nothing to tell apart
    typed_in_the_wrong_box = client.post("/api/session",
                                         json={"username": "My Secret Pass!", "password": ""})
    assert typed_in_the_wrong_box.status_code == 401
    rows = audit_since(store, before)
    assert [(r["action"], r["subject_id"], r["username"]) for r in reversed(rows)] == [
        ("login_failed", "ann", None), ("login_failed", "nobody", None),
        ("login_failed", "(invalid)", None)]
    text = json.dumps(rows, default=str)
    assert wrong not in text and "My Secret Pass!" not in text


def test_login_takes_json_only_and_never_echoes_the_body(client: TestClient) -> None:
    # a cross-site form can send text/plain or a form body, never JSON without a preflight
    as_text = client.post("/api/session", headers={"content-type": "text/plain"},
                          content=json.dumps({"username": "ann", "password": PW}))
    as_form = client.post("/api/session", data={"username": "ann", "password": PW})
    missing = client.post("/api/session", json={"password": PW})
    for r in (as_text, as_form, missing):
        assert r.status_code == 422 and PW not in r.text
        assert COOKIE not in r.cookies


def test_logout_ends_the_session(client: TestClient, store: Store) -> None:
    csrf = login(client, "sue")
    assert client.delete("/api/session").status_code == 403  # no CSRF token
    assert client.get("/api/session").status_code == 200
    r = client.delete("/api/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert client.get("/api/session").status_code == 401
    assert read_audit(store, username="sue", limit=1)[0]["action"] == "logout"


def test_a_change_elsewhere_reaches_a_cached_session_within_its_ttl(
        client: TestClient, ctx: Ctx, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker answers a session from memory for at most ``ttl`` seconds: a session
    deleted behind its back (another worker's sign-out, ``creditdesk user`` deactivating
    someone) still works until then, and not a moment after; an expired one never does."""
    import creditdesk.web.sessions as sessions_mod

    clock = [1000.0]
    monkeypatch.setattr(sessions_mod.time, "monotonic", lambda: clock[0])
    ctx.sessions.clear()
    login(client, "bob")
    assert client.get("/api/session").status_code == 200  # read from the store, kept
    store.execute("DELETE FROM sessions WHERE username = 'bob'")  # another process
    clock[0] += ctx.sessions.ttl - 0.5
    assert client.get("/api/session").status_code == 200  # within the ttl: from memory
    clock[0] += 1.0
    assert client.get("/api/session").status_code == 401  # past it: the store says no
    ctx.sessions.clear()


def test_api_answers_401_and_pages_redirect_to_login(client: TestClient) -> None:
    r = client.get("/api/session")
    assert r.status_code == 401 and "sign in" in r.json()["detail"]
    page = client.get("/cases/K-7?tab=notes", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fcases%2FK-7%3Ftab%3Dnotes"
    login(client, "ann")
    assert client.get("/cases/K-7").json() == {"case": "K-7", "user": "ann"}


def test_a_forged_or_expired_session_is_401(client: TestClient, store: Store) -> None:
    client.cookies.set(COOKIE, "forged-token")
    assert client.get("/api/session").status_code == 401
    user = get_user(store, "ann")
    assert user is not None
    token, _ = create_session(store, user, ttl=timedelta(seconds=-1))
    client.cookies.set(COOKIE, token)
    assert client.get("/api/session").status_code == 401
    token, _ = create_session(store, user)
    client.cookies.set(COOKIE, token)
    assert client.get("/api/session").status_code == 200


def test_the_store_keeps_only_hashes_of_session_tokens(client: TestClient,
                                                       store: Store) -> None:
    login(client, "aud")
    token = client.cookies[COOKIE]
    rows = store.execute("SELECT token_hash FROM sessions")
    assert rows and all(token not in str(r[0]) for r in rows)
    hashes = store.execute("SELECT password_hash FROM users WHERE username = 'aud'")
    assert str(hashes[0][0]).startswith("$argon2id$")


# ---- CSRF and permissions ----------------------------------------------------------------

NEW = {"username": "new.agent", "role": "collections_agent", "password": "another long one",
       "display_name": "New Agent"}


def test_unsafe_request_without_csrf_is_403_and_writes_nothing(client: TestClient,
                                                                store: Store) -> None:
    login(client, "root.admin")
    users, seq = n_users(store), last_seq(store)
    r = client.post("/api/users", json={**NEW, "username": "csrf.victim"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = client.post("/api/users", json={**NEW, "username": "csrf.victim"},
                    headers={"X-CSRF-Token": "not-the-token"})
    assert r.status_code == 403 and "does not match" in r.json()["detail"]
    assert n_users(store) == users and last_seq(store) == seq
    assert get_user(store, "csrf.victim") is None


def test_admin_adds_a_user_with_the_csrf_token_and_it_is_audited(client: TestClient,
                                                                  store: Store) -> None:
    csrf = login(client, "root.admin")
    seq = last_seq(store)
    r = client.post("/api/users", json=NEW, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    assert r.json()["username"] == "new.agent" and "password" not in r.text
    assert "password_hash" not in client.get("/api/users").text
    assert "new.agent" in [u["username"] for u in client.get("/api/users").json()]
    rows = audit_since(store, seq)
    assert [(r["action"], r["username"], r["subject_id"], r["detail"]) for r in rows] == [
        ("user_add", "root.admin", "new.agent",
         {"role": "collections_agent", "display_name": "New Agent"})]
    assert NEW["password"] not in json.dumps(rows, default=str)
    assert authenticate(store, "new.agent", NEW["password"]).role == "collections_agent"


def test_only_admins_add_users(client: TestClient, store: Store) -> None:
    csrf = login(client, "aud")
    r = client.post("/api/users", json={**NEW, "username": "sneaky"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and "manage_users" in r.json()["detail"]
    assert get_user(store, "sneaky") is None
    assert client.get("/api/users").status_code == 200  # the auditor may look
    login(client, "ann")
    assert client.get("/api/users").status_code == 403


def test_user_errors_name_the_field_and_never_echo_the_password(client: TestClient) -> None:
    csrf = login(client, "root.admin")
    h = {"X-CSRF-Token": csrf}
    r = client.post("/api/users", json={**NEW, "username": "x.y", "role": "boss"}, headers=h)
    assert r.status_code == 422
    err = r.json()["detail"][0]
    assert err["loc"] == ["body", "role"] and "role must be one of" in err["msg"]
    assert "got 'boss'" in err["msg"] and err["input"] == "boss"
    r = client.post("/api/users", json={**NEW, "username": "x.y", "password": "short pw"},
                    headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "password"]
    assert "short pw" not in r.text and "at least 12" in r.text
    r = client.post("/api/users", json={"username": "x.y", "password": "a secret one here"},
                    headers=h)
    assert r.status_code == 422 and "a secret one here" not in r.text
    assert ["body", "role"] in [e["loc"] for e in r.json()["detail"]]
    r = client.post("/api/users", json={**NEW, "username": "Bad Name"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "username"]
    r = client.post("/api/users", json={**NEW, "username": "ann"}, headers=h)
    assert r.status_code == 409 and "'ann' is taken" in r.json()["detail"]


# ---- the audit log ---------------------------------------------------------------------

def test_only_auditors_read_the_audit_log_and_reading_is_audited(client: TestClient,
                                                                  store: Store) -> None:
    for who in ("root.admin", "ann", "sue", "ria"):
        login(client, who)
        assert client.get("/api/audit").status_code == 403, who
    login(client, "aud")
    r = client.get("/api/audit", params={"username": "aud", "limit": 5})
    assert r.status_code == 200
    rows = r.json()
    assert rows and all(row["username"] == "aud" for row in rows)
    assert rows[0]["action"] == "login"
    latest = read_audit(store, limit=1)[0]
    assert latest["action"] == "read_audit" and latest["detail"]["filters"] == {"username": "aud"}
    v = client.get("/api/audit/verify").json()
    assert v["ok"] is True and v["first_bad_seq"] is None and v["head_seq"] >= latest["seq"]
    assert client.get("/api/audit", params={"limit": 0}).status_code == 422


def test_no_route_changes_the_audit_log(client: TestClient, store: Store) -> None:
    for route in client.app.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", "").startswith("/api/audit"):
            assert route.methods <= {"GET", "HEAD"}, route.path
    csrf = login(client, "aud")
    seq = last_seq(store)
    h = {"X-CSRF-Token": csrf}
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        for path in ("/api/audit", f"/api/audit/{seq}"):
            r = client.request(method, path, headers=h, json={"action": "nothing"})
            assert r.status_code in (404, 405), (method, path, r.status_code)
    assert last_seq(store) == seq
    assert verify_audit_chain(store) == (True, None)


def test_the_chain_finds_a_row_changed_or_deleted_outside_the_app(fresh: Ctx) -> None:
    store = fresh.store()
    ensure_web_tables(store)  # again: idempotent, the trigger stays
    for i in range(5):
        audit(store, User("ann", "collections_agent"), "view_customer", "customer", f"C{i}",
              {"n": i}, "10.0.0.1")
    assert verify_audit_chain(store) == (True, None)
    postgres = store.dialect == "postgres"
    if postgres:  # the app's own trigger refuses: only the table's owner can step around it
        with pytest.raises(Exception, match="append-only"):
            store.execute("UPDATE audit_log SET subject_id = 'C9' WHERE seq = 3")
        with pytest.raises(Exception, match="append-only"):
            store.execute("DELETE FROM audit_log WHERE seq = 5")
        store.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    store.execute("UPDATE audit_log SET subject_id = 'C9' WHERE seq = 3")
    assert verify_audit_chain(store) == (False, 3)
    store.execute("UPDATE audit_log SET subject_id = 'C2' WHERE seq = 3")
    assert verify_audit_chain(store) == (True, None)
    store.execute("DELETE FROM audit_log WHERE seq = 2")
    assert verify_audit_chain(store) == (False, 2)
    if postgres:
        store.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def test_concurrent_writers_never_share_a_seq(fresh: Ctx) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            store = fresh.store()  # each thread its own store, as the app does
            for i in range(8):
                audit(store, None, "login_failed", "user", f"t{n}", {"i": i}, None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = [r["seq"] for r in read_audit(fresh.store(), limit=1000)]
    assert sorted(seqs) == list(range(1, 33))
    assert verify_audit_chain(fresh.store()) == (True, None)


def test_audit_refuses_secrets_in_detail(store: Store) -> None:
    seq = last_seq(store)
    with pytest.raises(BadInputError, match="password"):
        audit(store, None, "user_add", "user", "x", {"password": "hunter2hunter2"}, None)
    assert last_seq(store) == seq


# ---- the sign-in page ------------------------------------------------------------------

def test_login_page_is_guarded_by_a_pre_session_token(client: TestClient,
                                                      store: Store) -> None:
    page = client.get("/login", params={"next": "/cases/K-1"})
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    token = client.cookies[LOGIN_COOKIE]
    assert f'value="{token}"' in page.text and 'value="/cases/K-1"' in page.text
    assert "samesite=strict" in page.headers["set-cookie"].lower()
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    form = {"username": "sue", "password": PW, "next": "/cases/K-1", "csrf_token": token}
    # another site's form: no cookie comes with it
    with TestClient(make_app(client.app.state.ctx)) as other:  # type: ignore[attr-defined]
        r = other.post("/login", data=form, follow_redirects=False)
        assert r.status_code == 403 and COOKIE not in r.cookies
    r = client.post("/login", data={**form, "password": "wrong password!"},
                    follow_redirects=False)
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "wrong password!" not in r.text
    r = client.post("/login", data={**form, "username": "<b>x</b>", "password": "no"})
    assert r.status_code == 401 and "&lt;b&gt;x&lt;/b&gt;" in r.text and "<b>x" not in r.text
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/cases/K-1"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert client.get("/api/session").json()["username"] == "sue"
    # signed in: the sign-in page sends you on
    again = client.get("/login", params={"next": "//evil.example/"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/"


def test_login_page_never_redirects_off_site(client: TestClient) -> None:
    client.get("/login")
    token = client.cookies[LOGIN_COOKIE]
    r = client.post("/login", data={"username": "sue", "password": PW, "csrf_token": token,
                                    "next": "https://evil.example/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_page_forms_carry_the_csrf_token_in_a_field(client: TestClient) -> None:
    csrf = login(client, "ann")
    r = client.post("/cases/K-1/notes", data={"note": "promised Friday"})
    assert r.status_code == 403  # a page: the short HTML answer
    r = client.post("/cases/K-1/notes", data={"note": "promised Friday", "csrf_token": csrf})
    assert r.status_code == 200  # the form is read once by the check and again by the route
    assert r.json() == {"case": "K-1", "note": "promised Friday", "user": "ann"}
    client.cookies.clear()
    r = client.post("/cases/K-1/notes", data={"note": "x", "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_logout_form_needs_the_csrf_token(client: TestClient) -> None:
    csrf = login(client, "ria")
    r = client.post("/logout", data={"x": "1"}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/api/session").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/api/session").status_code == 401


def test_failed_logins_are_throttled(client: TestClient, store: Store) -> None:
    for _ in range(10):
        audit(store, None, "login_failed", "user", "bob", {}, "testclient")
    r = client.post("/api/session", json={"username": "bob", "password": PW})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert read_audit(store, limit=1)[0]["action"] == "login_throttled"
    client.get("/login")
    page = client.post("/login", data={"username": "bob", "password": PW,
                                       "csrf_token": client.cookies[LOGIN_COOKIE]})
    assert page.status_code == 429
    login(client, "ann")  # another user from the same client is not locked out


def test_password_is_rehashed_when_the_parameters_change(store: Store,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    add_user(store, "old.hash", "auditor", PW)
    assert "m=1024" in str(get_hash(store, "old.hash"))
    monkeypatch.setattr(users_mod, "_HASHER", PasswordHasher(time_cost=1, memory_cost=2048,
                                                             parallelism=1))
    assert authenticate(store, "old.hash", PW).username == "old.hash"
    assert "m=2048" in str(get_hash(store, "old.hash"))
    assert authenticate(store, "old.hash", PW).username == "old.hash"


def get_hash(store: Store, username: str) -> object:
    return store.execute("SELECT password_hash FROM users WHERE username = ?", [username])[0][0]


# ---- PII -------------------------------------------------------------------------------

def test_contact_data_is_masked_and_a_reveal_is_audited(store: Store) -> None:
    upsert_pii(store, pl.DataFrame({"customer_id": ["C-77"], "name": ["张三"],
                                    "phone": ["+8613912345678"],
                                    "id_number": ["110105194912310021"]}))
    masked = customer_contact(store, "C-77")
    assert masked == {"customer_id": "C-77", "name": "张*", "phone": "+86 139****5678",
                      "id_number": "1101**********0021", "masked": True, "on_file": True}
    ann = User("ann", "collections_agent")
    seq = last_seq(store)
    with pytest.raises(BadInputError, match="reason is required"):
        reveal_pii(store, ann, "C-77", "phone", "  ", "10.0.0.7")
    with pytest.raises(BadInputError, match="field must be one of"):
        reveal_pii(store, ann, "C-77", "email", "call", "10.0.0.7")
    with pytest.raises(ForbiddenError):
        reveal_pii(store, User("ria", "risk_analyst"), "C-77", "phone", "curious", None)
    with pytest.raises(NotFoundError):
        reveal_pii(store, ann, "C-404", "phone", "call back", None)
    assert last_seq(store) == seq  # nothing revealed, nothing recorded
    assert reveal_pii(store, ann, "C-77", "phone", "call back as promised",
                      "10.0.0.7") == "+8613912345678"
    row = read_audit(store, limit=1)[0]
    assert (row["action"], row["username"], row["role"], row["subject_type"],
            row["subject_id"], row["client"]) == ("reveal_pii", "ann", "collections_agent",
                                                  "customer", "C-77", "10.0.0.7")
    assert row["detail"] == {"field": "phone", "reason": "call back as promised"}


def test_upsert_pii_replaces_rows_and_validates(store: Store) -> None:
    upsert_pii(store, pl.DataFrame({"customer_id": ["C-1", "C-2"], "name": ["李四", "王五"],
                                    "phone": ["13800000001", "13800000002"]}))
    upsert_pii(store, pl.DataFrame({"customer_id": ["C-2", "C-3"],
                                    "phone": ["13900000002", "13900000003"]}))
    got = {c: customer_contact(store, c, reveal=True) for c in ("C-1", "C-2", "C-3")}
    assert (got["C-1"]["phone"], got["C-2"]["phone"], got["C-3"]["phone"]) == (
        "13800000001", "13900000002", "13900000003")
    assert (got["C-2"]["name"], got["C-3"]["name"]) == ("王五", None)
    with pytest.raises(BadInputError, match="appears more than once"):
        upsert_pii(store, pl.DataFrame({"customer_id": ["C-1", "C-1"]}))
    with pytest.raises(BadInputError, match="no column 'email'"):
        upsert_pii(store, pl.DataFrame({"customer_id": ["C-1"], "email": ["x@y"]}))


# ---- creditdesk user -------------------------------------------------------------------

def test_user_add_reads_the_password_from_stdin(ctx: Ctx, store: Store) -> None:
    r = CliRunner().invoke(user_app, ["add", "cli.user", "--role", "supervisor", "--store",
                                      ctx.url, "--display-name", "Cli User"],
                           input="a long cli passphrase\n")
    assert r.exit_code == 0, r.output
    assert "added user cli.user with role supervisor" in r.output
    assert "a long cli passphrase" not in r.output
    assert authenticate(store, "cli.user", "a long cli passphrase").display_name == "Cli User"
    row = read_audit(store, subject_id="cli.user", limit=1)[0]
    assert row["action"] == "user_add" and row["detail"]["via"] == "cli"
    listed = CliRunner().invoke(user_app, ["list", "--store", ctx.url, "--json"])
    assert listed.exit_code == 0
    users = {u["username"]: u for u in json.loads(listed.stdout)}
    assert users["cli.user"]["role"] == "supervisor" and "password_hash" not in listed.stdout


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["add", "cli.two", "--role", "auditor"], "\n", "empty line"),
    (["add", "cli.two", "--role", "auditor"], "", "empty line"),
    (["add", "cli.two", "--role", "auditor"], "short\n", "at least 12"),
    (["add", "cli.two", "--role", "boss"], "a long passphrase\n", "role must be one of"),
    (["add", "Cli Two", "--role", "auditor"], "a long passphrase\n", "username must be"),
    (["add", "ann", "--role", "auditor"], "a long passphrase\n", "'ann' is taken"),
])
def test_user_add_refuses_bad_input(ctx: Ctx, store: Store, args: list[str], stdin: str,
                                    message: str) -> None:
    r = CliRunner().invoke(user_app, [*args, "--store", ctx.url], input=stdin)
    assert r.exit_code == 2, r.output
    assert message in r.output and "a long passphrase" not in r.output
    assert get_user(store, "cli.two") is None
