"""Real-time credit decisions: ``POST /api/decisions`` and ``GET /api/decisions/{id}``.

One application in (its model features and, optionally, a monthly income in minor
units); PD, score, band, decision, credit limit (minor units), daily rate and the three
main reasons out, recorded once per ``application_id`` (a retry with the same inputs
answers the first decision with 200 instead of 201 and writes nothing; other inputs
under the same id are refused, 409). The work is in :mod:`creditdesk.risk.realtime`
(scoring) and :mod:`creditdesk.risk.decisions_log` (the record); this module parses,
calls one function, and formats.

The model is ``WebConfig.decision_model`` or the shipped application scorecard, loaded
and compiled once per app (on the first decision request) and shared by every thread.
Deciding needs the ``decide`` permission (risk analysts) and, as every unsafe request,
the session's CSRF token (``X-CSRF-Token``). Reading a decision back needs ``decide``
too and is written to the audit log (it shows an applicant's figures); making one is
not, since the ``decisions`` row itself records who decided what and when.

>>> [r.path for r in router.routes]
['/api/decisions', '/api/decisions/{application_id}']
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StringConstraints

from creditdesk.risk.decisions_log import (
    MAX_ID,
    DecisionRecorder,
    ensure_decisions_table,
    get_decision,
)
from creditdesk.risk.realtime import RealtimeScorer, load_scorer
from creditdesk.web.api.common import MAX_AMOUNT, ctx_of
from creditdesk.web.audit import audit
from creditdesk.web.deps import client_of, csrf_protect, require
from creditdesk.web.users import User

__all__ = ["DecisionIn", "DecisionOut", "recorder_of", "router", "scorer_of"]

router = APIRouter(prefix="/api", tags=["decisions"])
Decider = Annotated[User, Depends(require("decide"))]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
ApplicationId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID,
                                                 pattern=_ID_PATTERN)]
Category = Annotated[str, StringConstraints(strict=True, max_length=256)]
FeatureValue = StrictInt | StrictFloat | Category | None
_LOCK = threading.Lock()


class DecisionIn(BaseModel):
    """One application to decide."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "application_id": "app-2026-000123",
        "features": {"LIMIT_BAL": 120000, "PAY_0": -1, "AGE": 26, "EDUCATION": 2},
        "income": 2500000}]})

    application_id: ApplicationId = Field(
        description="the lender's id of the application; a retry with the same id and inputs "
                    "answers the recorded decision")
    features: dict[str, FeatureValue] = Field(
        max_length=1000, description="every feature of the model's schema (null when not "
        "known); numbers for numeric features, strings for categories and dates")
    income: StrictInt | None = Field(
        default=None, gt=0, le=MAX_AMOUNT,
        description="monthly income in minor units (fen, cents); null: no limit is set")


class ReasonOut(BaseModel):
    feature: str
    value: float = Field(description="points lost (scorecard) or contribution to the "
                                     "log-odds of default (gbm)")


class ModelOut(BaseModel):
    hash: str = Field(description="SHA-256 of the model folder's manifest")
    type: Literal["scorecard", "gbm"]


class DecisionOut(BaseModel):
    """A decision as recorded."""

    application_id: str
    decided_at: str
    decided_by: str
    pd: float
    score: int
    band: str
    decision: Literal["approve", "decline"]
    limit: int | None = Field(description="credit limit in minor units; null when declined "
                                          "or without an income")
    daily_rate: str | None = Field(description="decimal string, e.g. '0.0003'; null when "
                                               "declined")
    reasons: list[ReasonOut]
    model: ModelOut


def _table_ready(request: Request) -> None:
    """Create the ``decisions`` table on the app's first decision request."""
    state = request.app.state
    if not getattr(state, "decisions_table_ready", False):
        with _LOCK:
            if not getattr(state, "decisions_table_ready", False):
                ensure_decisions_table(ctx_of(request).store())
                state.decisions_table_ready = True


def scorer_of(request: Request) -> RealtimeScorer:
    """The app's compiled decision model, loaded on first use; one per app, shared by
    every thread (``app.state.decision_scorer``)."""
    state = request.app.state
    scorer: RealtimeScorer | None = getattr(state, "decision_scorer", None)
    if scorer is None:
        with _LOCK:
            scorer = getattr(state, "decision_scorer", None)
            if scorer is None:
                scorer = load_scorer(ctx_of(request).config.decision_model)
                state.decision_scorer = scorer
    return scorer


def recorder_of(request: Request) -> DecisionRecorder:
    """The app's decision recorder (its writer thread commits decisions in groups), built on
    first use with the ``decisions`` table; ``app.state.decision_recorder``."""
    state = request.app.state
    recorder: DecisionRecorder | None = getattr(state, "decision_recorder", None)
    if recorder is None:
        scorer = scorer_of(request)
        _table_ready(request)
        with _LOCK:
            recorder = getattr(state, "decision_recorder", None)
            if recorder is None:
                recorder = DecisionRecorder(scorer, ctx_of(request).store)
                state.decision_recorder = recorder
    return recorder


@router.post("/decisions", status_code=201, response_model=DecisionOut,
             dependencies=[Depends(csrf_protect)],
             responses={200: {"description": "already decided with the same inputs: the "
                                             "recorded decision"},
                        409: {"description": "the id was decided with other inputs"},
                        422: {"description": "bad input; the body names the field"}})
def decide(request: Request, body: DecisionIn, user: Decider) -> Response:
    """Score one application, apply the policy, record and answer the decision."""
    got = recorder_of(request).decide(body.application_id, body.features, body.income,
                                      username=user.username, at=ctx_of(request).config.now())
    # the answer is already plain JSON data: skip re-validating it against DecisionOut
    return JSONResponse(got.answer, status_code=201 if got.created else 200)


@router.get("/decisions/{application_id}", response_model=DecisionOut)
def decision(request: Request, user: Decider,
             application_id: Annotated[str, Path(min_length=1, max_length=MAX_ID)]
             ) -> dict[str, Any]:
    """The recorded decision of an application (404 if none)."""
    ctx = ctx_of(request)
    _table_ready(request)
    store = ctx.store()
    out = get_decision(store, application_id)
    audit(store, user, "view_decision", "application", application_id, {},
          client_of(request))
    return out
