"""The functions behind ``creditdesk compliance``: one call per command, JSON-ready results.

The CLI (and later the web API) parse their arguments, call one of these, and
format what comes back; all the work, including opening the audit store, is here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from creditdesk.compliance.audit import AuditEntry, AuditLog
from creditdesk.compliance.checker import check
from creditdesk.compliance.profiles import Profile, load_profile
from creditdesk.compliance.request import decision_to_dict, parse_request_json
from creditdesk.errors import StoreError

__all__ = ["check_request_json", "describe_rules"]


def _open_audit(path: Path) -> AuditLog:
    import ibis

    try:
        con = ibis.duckdb.connect(str(path))
    except Exception as exc:
        raise StoreError(f"cannot open audit store {str(path)!r}: {exc}") from exc
    return AuditLog(con)


def check_request_json(text: str, profile: str | Path,
                       audit_path: Path | None = None) -> dict[str, Any]:
    """Check one JSON request under ``profile``; optionally append the decision to an audit file.

    The request and the profile are fully validated before the audit store is even
    opened, so bad input writes nothing.

    >>> req = ('{"customer": {"timezone": "America/New_York"}, "proposed": '
    ...        '{"ts": "2026-03-02T21:00:00-05:00", "channel": "voice", "number": "2125550100"}}')
    >>> out = check_request_json(req, "US")
    >>> out["rule"], out["next_allowed_at"]
    ('us.quiet_hours', '2026-03-03T08:00:00-05:00')
    """
    prof = load_profile(profile)
    req = parse_request_json(text)
    decision = check(req.proposed, req.customer, req.history, prof)
    out = decision_to_dict(decision)
    out["profile"], out["profile_version"] = prof.name, prof.version
    if audit_path is not None:
        log = _open_audit(audit_path)
        out["decision_id"] = log.record(AuditEntry(prof, req.proposed, decision, req.raw,
                                                   req.customer_ref, req.case_ref))
    return out


def _params(rule: Any) -> dict[str, Any]:
    skip = {"id", "kind", "source", "description"}
    return {k: v for k, v in rule.model_dump().items() if k not in skip}


def describe_rules(profile: str | Path) -> dict[str, Any]:
    """A profile's identity, its sources and every rule with its parameters and citation.

    >>> d = describe_rules("CN")
    >>> d["name"], d["rules"][-2]["id"], d["rules"][-2]["params"]["limit"]
    ('CN', 'cn.connected_calls_per_day', 3)
    """
    prof: Profile = load_profile(profile)
    return {
        "name": prof.name,
        "version": prof.version,
        "jurisdiction": prof.jurisdiction,
        "description": prof.description,
        "sources": dict(prof.sources),
        "rules": [{"id": r.id, "kind": r.kind, "source": r.source,
                   "description": r.description, "params": _params(r)} for r in prof.rules],
    }
