"""The console's security core without a store: masks, the permission table, password policy
and hashing, the CSRF check, the audit row hash, redaction and redirects."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from creditdesk.customers.pii import mask_id_number, mask_name, mask_phone
from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.web.audit import GENESIS_HASH, row_hash
from creditdesk.web.deps import (
    check_case_access,
    csrf_protect,
    redact_errors,
    require,
    safe_next,
)
from creditdesk.web.errors import AuthError, CsrfError, LoginRequired
from creditdesk.web.sessions import Session, token_hash
from creditdesk.web.users import (
    PERMISSIONS,
    ROLES,
    User,
    allowed,
    check_password_policy,
    check_username,
    hash_password,
    permissions_of,
    verify_password,
)

# ---- masks -----------------------------------------------------------------------------


@pytest.mark.parametrize(("phone", "masked"), [
    ("+8613912345678", "+86 139****5678"),
    ("+86 139-1234-5678", "+86 139****5678"),
    ("008613912345678", "+86 139****5678"),
    ("13912345678", "139****5678"),
    ("+852 9123 4567", "+852 ****4567"),
    ("+1 (415) 555-0134", "+1 ******0134"),
    ("+7 912 345 67 89", "+7 ******6789"),
    ("010-12345678", "010****5678"),
    ("1234567", "*******"),
    ("", ""),
])
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_mask_phone_hides_at_least_four_digits_of_long_numbers() -> None:
    for n in range(8, 16):
        digits = "1" * (n - 4) + "9876"
        assert mask_phone(digits).count("*") >= 4, digits


@pytest.mark.parametrize(("id_number", "masked"), [
    ("110105194912310021", "1101**********0021"),
    ("11010519491231002X", "1101**********002X"),
    ("110105491231002", "1101*******1002"),   # the old 15-digit ID
    ("123-45-6789", "*****6789"),
    ("A123456", "*******"),
    ("  ", ""),
])
def test_mask_id_number(id_number: str, masked: str) -> None:
    assert mask_id_number(id_number) == masked


def test_mask_id_number_hides_the_birth_date() -> None:
    assert "19491231" not in mask_id_number("110105194912310021")


@pytest.mark.parametrize(("name", "masked"), [
    ("张三", "张*"), ("王秀英", "王**"), ("欧阳娜娜", "欧***"), ("张", "*"),
    ("John Smith", "J*** S****"), ("  Ana  ", "A**"), ("", ""),
])
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


# ---- roles and permissions -------------------------------------------------------------

#: permissions that change something (the auditor holds none of them)
WRITES = {"record_outcome", "offer_plan", "approve_plan", "reassign_case", "post_transaction",
          "run_eod", "decide", "edit_strategies", "manage_users"}


def test_permission_table_names_only_known_roles_and_every_role_has_work() -> None:
    assert ROLES == ("admin", "risk_analyst", "collections_agent", "supervisor", "auditor")
    for permission, roles in PERMISSIONS.items():
        assert roles <= set(ROLES), permission
    for role in ROLES:
        assert permissions_of(role), role
    assert set(PERMISSIONS) >= WRITES


def test_auditor_reads_everything_and_changes_nothing() -> None:
    held = set(permissions_of("auditor"))
    reads = {p for p in PERMISSIONS if p.startswith(("view_", "read_")) or p == "reveal_pii"}
    assert held <= reads and not held & WRITES
    assert reads - held == {"view_own_cases"}  # the auditor sees every case instead
    assert {"read_audit", "view_cases_all", "view_portfolio", "view_strategies",
            "view_users"} <= held


def test_separation_of_duties() -> None:
    assert permissions_of("auditor") and not allowed("admin", "read_audit")
    assert not allowed("admin", "view_cases_all") and not allowed("admin", "reveal_pii")
    assert [r for r in ROLES if allowed(r, "read_audit")] == ["auditor"]
    assert [r for r in ROLES if allowed(r, "manage_users")] == ["admin"]


def test_agents_work_their_own_cases_and_analysts_none() -> None:
    assert allowed("collections_agent", "view_own_cases")
    assert not allowed("collections_agent", "view_cases_all")
    for p in ("record_outcome", "offer_plan", "reveal_pii"):
        assert allowed("collections_agent", p)
        assert not allowed("risk_analyst", p)
    assert allowed("risk_analyst", "decide") and allowed("risk_analyst", "view_strategies")
    assert allowed("supervisor", "reassign_case") and not allowed("collections_agent",
                                                                   "reassign_case")


def test_unknown_permission_is_an_error_and_unknown_role_holds_nothing() -> None:
    with pytest.raises(KeyError, match="view_portfolo"):
        allowed("admin", "view_portfolo")
    with pytest.raises(KeyError, match="view_portfolo"):
        require("view_portfolo")
    assert not any(allowed("root", p) for p in PERMISSIONS)


def test_inactive_user_holds_nothing() -> None:
    assert not User("ann", "admin", active=False).can("manage_users")


def test_case_access_is_404_for_another_agents_case() -> None:
    check_case_access(User("ann", "collections_agent"), "ann")
    check_case_access(User("sue", "supervisor"), "ann")
    check_case_access(User("aud", "auditor"), None)
    with pytest.raises(NotFoundError):
        check_case_access(User("bob", "collections_agent"), "ann")
    with pytest.raises(NotFoundError):
        check_case_access(User("ria", "risk_analyst"), "ria")


# ---- usernames and passwords -----------------------------------------------------------

@pytest.mark.parametrize("name", ["li.wei", "ann", "a_b-c.d9", "x" * 32])
def test_good_usernames(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["Li", "li", "9lives", "li wei", "LiWei", "x" * 33, "ann'--", ""])
def test_bad_usernames_name_field_and_value(name: str) -> None:
    with pytest.raises(BadInputError) as info:
        check_username(name)
    assert info.value.field == "username" and info.value.value == name
    assert repr(name) in str(info.value)


def test_password_policy_never_repeats_the_password() -> None:
    with pytest.raises(BadInputError) as info:
        check_password_policy("tooShort1!")
    assert info.value.field == "password" and info.value.value is None
    assert "tooShort1!" not in str(info.value)
    assert "at least 12" in str(info.value) and "got 10 characters" in str(info.value)
    with pytest.raises(BadInputError, match="at most 1024"):
        check_password_policy("x" * 1025)
    check_password_policy("twelve chars")


def test_hash_and_verify() -> None:
    h1, h2 = hash_password("a long passphrase"), hash_password("a long passphrase")
    assert h1 != h2 and h1.startswith("$argon2id$")  # salted
    assert "a long passphrase" not in h1
    assert verify_password(h1, "a long passphrase")
    assert not verify_password(h1, "a long passphrasE")
    assert not verify_password("not a hash", "a long passphrase")


# ---- CSRF --------------------------------------------------------------------------------

def _request(method: str, headers: dict[str, str], csrf: str | None,
             body: bytes = b"") -> Request:
    scope = {"type": "http", "method": method, "path": "/api/users", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "state": {}}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    req = Request(scope, receive)
    now = datetime.now(UTC)
    session = None if csrf is None else Session(
        "h", User("ann", "admin"), csrf, now, now + timedelta(hours=1))
    req.state.creditdesk_session = session
    return req


def test_csrf_header_must_equal_the_sessions_token() -> None:
    ok = _request("POST", {"X-CSRF-Token": "tok-123"}, "tok-123")
    assert asyncio.run(csrf_protect(ok)) is not None
    for headers in ({}, {"X-CSRF-Token": "tok-124"}, {"X-CSRF-Token": ""}):
        with pytest.raises(CsrfError):
            asyncio.run(csrf_protect(_request("DELETE", headers, "tok-123")))


def test_csrf_form_field_is_accepted() -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert asyncio.run(csrf_protect(_request("POST", form, "tok-9",
                                             b"a=1&csrf_token=tok-9"))) is not None
    with pytest.raises(CsrfError, match="missing"):
        asyncio.run(csrf_protect(_request("POST", form, "tok-9", b"a=1")))


def test_csrf_lets_safe_methods_through_and_wants_a_session_for_unsafe_ones() -> None:
    assert asyncio.run(csrf_protect(_request("GET", {}, None))) is None
    with pytest.raises(AuthError):
        asyncio.run(csrf_protect(_request("POST", {"X-CSRF-Token": "x"}, None)))


def test_page_without_session_asks_for_login() -> None:
    req = _request("POST", {}, None)
    req.scope["path"] = "/cases/7"
    with pytest.raises(LoginRequired):
        asyncio.run(csrf_protect(req))


# ---- audit hash, tokens, redaction, redirects ------------------------------------------

def test_row_hash_covers_every_field() -> None:
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    base = (GENESIS_HASH, 1, at, "ann", "supervisor", "reveal_pii", "customer", "C1",
            '{"field":"phone"}', "10.0.0.7")
    h = row_hash(*base)
    assert h == row_hash(*base) and len(h) == 64
    for i in range(len(base)):
        changed = list(base)
        changed[i] = at + timedelta(microseconds=1) if i == 2 else (
            2 if i == 1 else "0" * 63 + "1" if i == 0 else "other")
        assert row_hash(*changed) != h, i


def test_row_hash_is_the_same_instant_in_any_zone() -> None:
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    shanghai = at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    args = ("ann", "auditor", "read_audit", None, None, "{}", None)
    assert row_hash(GENESIS_HASH, 1, at, *args) == row_hash(GENESIS_HASH, 1, shanghai, *args)


def test_session_token_is_stored_as_sha256() -> None:
    assert token_hash("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_validation_errors_never_echo_passwords() -> None:
    errors = [{"loc": ["body", "role"], "msg": "Field required", "type": "missing",
               "input": {"username": "ann", "password": "hunter2hunter2"}},
              {"loc": ["body", "password"], "msg": "too long", "input": "hunter2hunter2",
               "ctx": {"max_length": 5}}]
    out = redact_errors(errors)
    assert "hunter2hunter2" not in repr(out)
    assert out[0]["input"] == {"username": "ann", "password": "***"}
    assert out[1]["loc"] == ["body", "password"] and "ctx" not in out[1]
    raw = [{"loc": ["body"], "msg": "not JSON", "input": "username=ann&password=hunter2hunter2"},
           {"loc": ["body"], "msg": "not JSON", "input": b'{"password": "hunter2hunter2"}'},
           {"loc": ["query", "limit"], "msg": "too big", "input": "5000"}]
    assert [e["input"] for e in redact_errors(raw)] == ["***", "***", "5000"]


@pytest.mark.parametrize(("given", "went"), [
    ("/cases/7", "/cases/7"), ("/a?b=c", "/a?b=c"), (None, "/"), ("", "/"),
    ("https://evil.example/", "/"), ("//evil.example/", "/"), ("/\\evil.example", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"), ("javascript:alert(1)", "/"),
])
def test_safe_next(given: str | None, went: str) -> None:
    assert safe_next(given) == went
