"""``POST /api/decisions``: a real app on a temporary DuckDB store, signed in as a risk analyst.

The answer is the real-time scorer's (itself tested equal to ``score_table``); a repeat is
the first decision and writes nothing; other inputs under the same id are refused; bad
input is a 422 naming the field and writes nothing; no CSRF token or the wrong role is a
403. The record itself (``creditdesk.risk.decisions_log``) is checked on PostgreSQL too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from creditdesk.datasets import taiwan_credit_default
from creditdesk.risk.decisions_log import (
    DecisionConflict,
    ensure_decisions_table,
    get_decision,
    record_decision,
)
from creditdesk.risk.realtime import load_scorer
from creditdesk.store import open_store
from creditdesk.web import WebConfig, create_app
from creditdesk.web.security import ensure_web_tables
from creditdesk.web.users import add_user

PASSWORD = "correct horse battery"
NOW = datetime(2026, 3, 2, 9, 15, 30, 123456, tzinfo=UTC)


def _app(url: str, decision_model: Path | None = None) -> FastAPI:
    return create_app(WebConfig(store_url=url, decision_model=decision_model,
                                clock=lambda: NOW))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('decide') / 'b.duckdb'}"
    store = open_store(url)
    ensure_web_tables(store)
    add_user(store, "ana.lyst", "risk_analyst", PASSWORD)
    add_user(store, "agent.amy", "collections_agent", PASSWORD)
    store.close()
    return url


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    frame = taiwan_credit_default().head(20).drop(columns=["class", "ID", "SEX", "MARRIAGE"])
    return [{k: (int(v) if float(v).is_integer() else float(v)) for k, v in r.items()}
            for r in frame.to_dict("records")]


def _login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


@pytest.fixture(scope="module")
def ana(url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(_app(url)) as client:
        yield client, _login(client, "ana.lyst")


def _count(client: TestClient) -> int:
    store = client.app.state.ctx.store()  # type: ignore[attr-defined]
    if not store.has_table("decisions"):
        return 0
    return int(store.execute("SELECT count(*) FROM decisions")[0][0])


def test_a_decision_is_the_scorers_answer_and_is_recorded(
        ana: tuple[TestClient, dict[str, str]], rows: list[dict[str, Any]]) -> None:
    client, headers = ana
    body = {"application_id": "app-1", "features": rows[2], "income": 2_500_000}
    r = client.post("/api/decisions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    got = r.json()
    want = load_scorer().decide(rows[2], 2_500_000)
    assert {k: got[k] for k in want} == want
    assert got["decision"] == "approve" and got["limit"] == 4_500_000
    assert got["daily_rate"] == "0.0004" and len(got["reasons"]) == 3
    assert got["application_id"] == "app-1" and got["decided_by"] == "ana.lyst"
    assert got["decided_at"] == NOW.isoformat()
    assert got["model"]["type"] == "scorecard" and len(got["model"]["hash"]) == 64
    assert client.get("/api/decisions/app-1").json() == got
    store = client.app.state.ctx.store()  # type: ignore[attr-defined]
    (username, limit, reasons), = store.execute(
        "SELECT username, credit_limit_minor, reasons FROM decisions "
        "WHERE application_id = 'app-1'")
    assert (username, limit) == ("ana.lyst", 4_500_000) and "PAY_AMT2" in reasons


def test_a_repeat_answers_the_first_decision_and_writes_nothing(
        ana: tuple[TestClient, dict[str, str]], rows: list[dict[str, Any]]) -> None:
    client, headers = ana
    body = {"application_id": "app-2", "features": rows[0], "income": None}
    first = client.post("/api/decisions", json=body, headers=headers)
    assert first.status_code == 201 and first.json()["decision"] == "decline"
    assert first.json()["limit"] is None and first.json()["daily_rate"] is None
    n = _count(client)
    same = {**body, "features": {k: float(v) for k, v in rows[0].items()}}  # 2 == 2.0
    again = client.post("/api/decisions", json=same, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert _count(client) == n


def test_other_inputs_under_a_decided_id_are_refused(
        ana: tuple[TestClient, dict[str, str]], rows: list[dict[str, Any]]) -> None:
    client, headers = ana
    body = {"application_id": "app-3", "features": rows[3], "income": 1_000_000}
    assert client.post("/api/decisions", json=body, headers=headers).status_code == 201
    n = _count(client)
    for changed in ({**body, "income": 1_000_001},
                    {**body, "features": {**rows[3], "AGE": rows[3]["AGE"] + 1}}):
        r = client.post("/api/decisions", json=changed, headers=headers)
        assert r.status_code == 409, r.text  # a conflict with the recorded decision
        assert r.json()["field"] == "application_id"
        assert "already decided" in r.json()["detail"]
    assert _count(client) == n


def _detail_locs(r: Any) -> list[list[Any]]:
    return [e["loc"] for e in r.json()["detail"]]


def test_malformed_json_is_a_422_naming_the_body(ana: tuple[TestClient, dict[str, str]]
                                                 ) -> None:
    client, headers = ana
    n = _count(client)
    r = client.post("/api/decisions", content=b'{"application_id": "x", "features": {',
                    headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and _detail_locs(r)[0][0] == "body"
    assert _count(client) == n


@pytest.mark.parametrize(("change", "field"), [
    ({"income": -100}, "income"),
    ({"income": 0}, "income"),
    ({"income": 1500.5}, "income"),
    ({"income": 1500.0}, "income"),
    ({"income": "150000"}, "income"),
    ({"income": True}, "income"),
    ({"application_id": 17}, "application_id"),
    ({"application_id": ""}, "application_id"),
    ({"application_id": "has space"}, "application_id"),
    ({"features": [1, 2]}, "features"),
    ({"features": {"AGE": [30]}}, "AGE"),
    ({"features": {"AGE": True}}, "AGE"),
    ({"surprise": 1}, "surprise"),
])
def test_wrong_types_are_a_422_naming_the_field(
        ana: tuple[TestClient, dict[str, str]], rows: list[dict[str, Any]],
        change: dict[str, Any], field: str) -> None:
    client, headers = ana
    n = _count(client)
    body: dict[str, Any] = {"application_id": "app-bad", "features": dict(rows[4]),
                            "income": 1_000_000}
    change = dict(change)
    if isinstance(change.get("features"), dict):
        body["features"].update(change.pop("features"))
    body.update(change)
    r = client.post("/api/decisions", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert any(field in loc for loc in _detail_locs(r)), r.json()
    assert _count(client) == n


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"AGE": "thirty"}, "AGE", "must be a number"),
    ({"PAY_O": 0}, "PAY_O", "unknown feature"),
])
def test_features_the_model_cannot_read_are_a_422_naming_the_feature(
        ana: tuple[TestClient, dict[str, str]], rows: list[dict[str, Any]],
        change: dict[str, Any], field: str, words: str) -> None:
    client, headers = ana
    n = _count(client)
    body = {"application_id": "app-bad2", "features": {**rows[5], **change}}
    r = client.post("/api/decisions", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and words in r.json()["detail"]
    assert _count(client) == n


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_numbers(ana: tuple[TestClient, dict[str, str]],
                            rows: list[dict[str, Any]], literal: str) -> None:
    """JSON has no infinities: Python's reader takes them, the scorer refuses them by name;
    NaN (as null) is a missing value."""
    client, headers = ana
    n = _count(client)
    features = json.dumps({**rows[5], "AGE": 0}).replace('"AGE": 0', f'"AGE": {literal}')
    body = f'{{"application_id": "app-nf-{literal}", "features": {features}}}'.encode()
    r = client.post("/api/decisions", content=body,
                    headers={**headers, "Content-Type": "application/json"})
    if literal == "NaN":
        assert r.status_code == 201, r.text
        assert r.json() == client.post("/api/decisions", json={
            "application_id": "app-nf-null", "features": {**rows[5], "AGE": None}},
            headers=headers).json() | {"application_id": "app-nf-NaN"}
        return
    assert r.status_code == 422, r.text
    assert "AGE" in json.dumps(r.json()) and _count(client) == n


def test_an_absent_feature_is_named(ana: tuple[TestClient, dict[str, str]],
                                    rows: list[dict[str, Any]]) -> None:
    client, headers = ana
    features = {k: v for k, v in rows[6].items() if k != "PAY_3"}
    r = client.post("/api/decisions", json={"application_id": "app-4", "features": features},
                    headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "PAY_3"
    assert client.get("/api/decisions/app-4").status_code == 404


def test_without_the_csrf_token_nothing_is_decided(
        ana: tuple[TestClient, dict[str, str]], rows: list[dict[str, Any]]) -> None:
    client, _ = ana
    n = _count(client)
    body = {"application_id": "app-5", "features": rows[7]}
    assert client.post("/api/decisions", json=body).status_code == 403
    wrong = {"X-CSRF-Token": "not-the-token"}
    assert client.post("/api/decisions", json=body, headers=wrong).status_code == 403
    assert _count(client) == n
    assert client.get("/api/decisions/app-5").status_code == 404


def test_an_agent_may_not_decide_nor_read_decisions(url: str, rows: list[dict[str, Any]],
                                                    ana: tuple[TestClient, dict[str, str]]
                                                    ) -> None:
    with TestClient(_app(url)) as client:
        headers = _login(client, "agent.amy")
        body = {"application_id": "app-6", "features": rows[8]}
        r = client.post("/api/decisions", json=body, headers=headers)
        assert r.status_code == 403 and "decide" in r.json()["detail"]
        assert client.get("/api/decisions/app-1").status_code == 403
    with TestClient(_app(url)) as anonymous:
        assert anonymous.post("/api/decisions", json=body).status_code == 401
    assert ana[0].get("/api/decisions/app-6").status_code == 404


def test_reading_a_decision_is_audited(ana: tuple[TestClient, dict[str, str]],
                                       rows: list[dict[str, Any]]) -> None:
    client, headers = ana
    body = {"application_id": "app-7", "features": rows[9]}
    assert client.post("/api/decisions", json=body, headers=headers).status_code == 201
    assert client.get("/api/decisions/app-7").status_code == 200
    store = client.app.state.ctx.store()  # type: ignore[attr-defined]
    assert store.execute("SELECT username FROM audit_log WHERE action = 'view_decision' "
                         "AND subject_id = 'app-7'") == [("ana.lyst",)]


def test_the_configured_model_is_used(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    """``WebConfig.decision_model`` replaces the shipped model (here: a gbm)."""
    from creditdesk.risk.artifact import save_model
    from creditdesk.risk.data import coerce_features, infer_schema
    from creditdesk.risk.gbm import GBMModel

    frame = taiwan_credit_default().head(3000).drop(columns=["ID", "SEX", "MARRIAGE"])
    schema = infer_schema(frame, "class")
    model = GBMModel(n_estimators=40, early_stopping_rounds=10).fit(
        coerce_features(frame, schema), frame["class"].to_numpy())
    save_model(tmp_path / "gbm", model, schema)
    url = f"duckdb:///{tmp_path / 'b.duckdb'}"
    store = open_store(url)
    ensure_web_tables(store)
    add_user(store, "ana.lyst", "risk_analyst", PASSWORD)
    store.close()
    with TestClient(_app(url, tmp_path / "gbm")) as client:
        r = client.post("/api/decisions", json={"application_id": "g-1", "features": rows[1],
                                                "income": 900_000},
                        headers=_login(client, "ana.lyst"))
        assert r.status_code == 201, r.text
        assert r.json()["model"]["type"] == "gbm"
        want = load_scorer(tmp_path / "gbm").decide(rows[1], 900_000)
        assert {k: r.json()[k] for k in want} == want


@pytest.mark.slow
def test_the_record_on_postgresql(pg_url: str, rows: list[dict[str, Any]]) -> None:
    """The same record, replay and refusal on a real PostgreSQL server."""
    store = open_store(pg_url)
    try:
        ensure_decisions_table(store)
        ensure_decisions_table(store)  # safe to repeat
        scorer = load_scorer()
        first = record_decision(store, scorer, "pg-1", rows[2], 2_500_000, username="ana",
                                at=NOW)
        again = record_decision(store, scorer, "pg-1", rows[2], 2_500_000, username="bo",
                                at=NOW)
        assert first.created and not again.created and again.answer == first.answer
        assert first.answer == {**get_decision(store, "pg-1")}
        assert first.answer["limit"] == 4_500_000 and first.answer["decided_by"] == "ana"
        with pytest.raises(DecisionConflict):
            record_decision(store, scorer, "pg-1", rows[2], 2_400_000, username="ana", at=NOW)
        assert store.execute("SELECT count(*) FROM decisions") == [(1,)]
    finally:
        store.close()


def test_concurrent_requests_are_committed_in_groups_one_row_per_id(
        tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    """Threads racing, some for the same ids with the same inputs, one with other inputs:
    one row per id, every racer for an id gets the same answer, the odd one a conflict."""
    from concurrent.futures import ThreadPoolExecutor

    from creditdesk.risk.decisions_log import DecisionRecorder

    store = open_store(f"duckdb:///{tmp_path / 'b.duckdb'}")
    ensure_decisions_table(store)
    recorder = DecisionRecorder(load_scorer(), lambda: store)
    jobs = [(f"c-{i % 150}", rows[i % 150 % len(rows)], 1_000_000) for i in range(600)]
    jobs.append(("c-7", rows[7 % len(rows)], 999_999))  # other inputs under a taken id

    def one(job: tuple[str, dict[str, Any], int]) -> Any:
        try:
            return recorder.decide(job[0], job[1], job[2], username="ana", at=NOW)
        except DecisionConflict as exc:
            return exc

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(one, jobs))
    recorder.close()
    assert isinstance(got[-1], DecisionConflict)
    answers: dict[str, dict[str, Any]] = {}
    for (app_id, _, _), rec in zip(jobs[:-1], got[:-1], strict=True):
        assert not isinstance(rec, Exception)
        assert answers.setdefault(app_id, rec.answer) == rec.answer
    assert sum(1 for r in got[:-1] if r.created) == 150
    assert store.execute("SELECT count(*), count(DISTINCT application_id) FROM decisions") \
        == [(150, 150)]
    assert recorder.batches < 601  # some requests shared a commit
    store.close()


@pytest.mark.parametrize(("raw", "field"), [
    ('"income": Infinity', "income"),
    ('"income": NaN', "income"),
    ('"income": -Infinity', "income"),
])
def test_non_finite_numbers_are_a_422_not_a_500(
        ana: tuple[TestClient, dict[str, str]], rows: list[dict[str, Any]],
        raw: str, field: str) -> None:
    """JSON has no NaN or Infinity, yet Python's parser reads them; the 422 echoes the
    input, which must not make the error page itself fail (found by the property below)."""
    client, headers = ana
    n = _count(client)
    text = f'{{"application_id": "app-nan", "features": {json.dumps(rows[4])}, {raw}}}'
    r = client.post("/api/decisions", content=text.encode(),
                    headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert any(field in loc for loc in _detail_locs(r)), r.json()
    assert _count(client) == n


def test_odd_input_never_fails_the_server(ana: tuple[TestClient, dict[str, str]],
                                          rows: list[dict[str, Any]]) -> None:
    """Property: whatever the body, the answer is 201/200 or a 4xx naming something."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client, headers = ana
    value = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                      st.text(max_size=20), st.lists(st.integers(), max_size=2),
                      st.just(10 ** 400), st.just(-(2 ** 63)))
    names = st.sampled_from([*rows[0], "ID", "SEX", "class", "PAY_O", "", "ü\x00"])

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(app_id=st.one_of(st.text(max_size=8), st.from_regex(r"fz-[a-z0-9]{1,6}",
                                                                fullmatch=True)),
           edits=st.dictionaries(names, value, max_size=4), drop=st.booleans(),
           income=st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3)))
    def run(app_id: str, edits: dict[str, Any], drop: bool, income: Any) -> None:
        features = {**rows[11], **edits}
        if drop:
            features.pop("AGE", None)
        body = {"application_id": app_id, "features": features, "income": income}
        text = json.dumps(body, allow_nan=True)
        r = client.post("/api/decisions", content=text.encode(),
                        headers={**headers, "Content-Type": "application/json"})
        assert r.status_code in (200, 201, 409, 422), (r.status_code, r.text)
        if r.status_code == 422:
            got = r.json()
            assert got.get("field") or got.get("detail"), got

    run()
