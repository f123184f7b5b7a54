"""creditdesk.compliance: contact rules as data, the one checker, and its audit trail.

>>> from datetime import datetime
>>> from creditdesk.compliance import CustomerState, ProposedContact, check, load_profile
>>> d = check(ProposedContact(datetime.fromisoformat("2026-03-02T23:00:00+08:00"), "visit"),
...           CustomerState("Asia/Shanghai"), [], load_profile("CN"))
>>> d.rule_id
'cn.quiet_hours'
"""

from creditdesk.compliance.checker import ALLOWED, check, check_many
from creditdesk.compliance.errors import ComplianceInputError, ProfileError
from creditdesk.compliance.model import (
    CHANNELS,
    ELECTRONIC,
    HOLDS,
    PARTIES,
    Allowed,
    Blocked,
    ContactEvent,
    CustomerState,
    Decision,
    ProposedContact,
)
from creditdesk.compliance.profiles import BUILTIN_PROFILES, Profile, load_profile

__all__ = [
    "ALLOWED",
    "BUILTIN_PROFILES",
    "CHANNELS",
    "ELECTRONIC",
    "HOLDS",
    "PARTIES",
    "Allowed",
    "Blocked",
    "ComplianceInputError",
    "ContactEvent",
    "CustomerState",
    "Decision",
    "Profile",
    "ProfileError",
    "ProposedContact",
    "check",
    "check_many",
    "load_profile",
]
