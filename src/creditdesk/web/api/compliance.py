"""The contact-rules checker and the strategies, over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from creditdesk.compliance.profiles import BUILTIN_PROFILES
from creditdesk.compliance.service import check_request_json, describe_rules
from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.web.api.common import ctx_of
from creditdesk.web.deps import current_user, require
from creditdesk.web.users import User

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["compliance", "strategies"])


@router.post("/compliance/check")
def compliance_check(request: Request, user: Annotated[User, Depends(current_user)],
                     body: Annotated[dict[str, Any], Body(
                         description="a checker request: customer, proposed, history "
                         "(see docs/compliance.md)")],
                     profile: str | None = None) -> dict[str, Any]:
    """Allowed or blocked, the rule, the reason and the next allowed time (read-only)."""
    return check_request_json(json.dumps(body), _profile(request, profile))


@router.get("/compliance/rules")
def compliance_rules(request: Request, user: Annotated[User, Depends(current_user)],
                     profile: str | None = None) -> dict[str, Any]:
    """The profile's rules with their parameters and legal sources."""
    return describe_rules(_profile(request, profile))


def _profile(request: Request, asked: str | None) -> str:
    """The server's profile, or a built-in one by name: a client never names a file on
    the server (``load_profile`` also reads profile files by path)."""
    served = ctx_of(request).config.profile
    if asked is None or asked == served:
        return served
    if asked.upper() not in BUILTIN_PROFILES:
        raise BadInputError(f"profile must be the server's ({served}) or a built-in one "
                            f"({', '.join(BUILTIN_PROFILES)}); got {asked[:40]!r}",
                            field="profile", value=asked[:40])
    return asked


@router.get("/strategies")
def strategies(user: Annotated[User, Depends(require("view_strategies"))]
               ) -> list[dict[str, Any]]:
    """The built-in collection strategies: name, version, arms."""
    from creditdesk.collections.strategy import BUILTIN_STRATEGIES, load_strategy

    out = []
    for name in BUILTIN_STRATEGIES:
        s = load_strategy(name)
        out.append({"name": s.name, "version": s.version, "jurisdiction": s.jurisdiction,
                    "arms": [{"name": a.name, "share": a.share} for a in s.arms]})
    return out


def load_results(path: Path | None) -> dict[str, Any]:
    """The strategy comparison (``simulate compare --json``) the server was given."""
    if path is None:
        raise NotFoundError("no strategy comparison loaded: start creditdesk serve with "
                            "--results compare.json")
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise NotFoundError(f"no comparison JSON in {path}")
    return {"runs": [{"file": f.name, **json.loads(f.read_text())} for f in files]}


@router.get("/strategies/results")
def strategy_results(request: Request,
                     user: Annotated[User, Depends(require("view_strategies"))]
                     ) -> dict[str, Any]:
    """Per-strategy (and per-arm) results of the twin's comparison, mean and 95 % interval."""
    return load_results(ctx_of(request).config.results)
