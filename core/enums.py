"""Named kinds and states, so nothing compares bare strings. Values are what the
database and the workflow file hold."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    RESIDENT = "resident"
    GRID_LEADER = "grid_leader"
    CARE_LEAD = "care_lead"
    FAMILY = "family"
    TEAM_MEMBER = "team_member"
    OPERATOR = "operator"


RESPONDER_ROLES = frozenset(Role) - {Role.RESIDENT}


class NeedKind(enum.StrEnum):
    MEDICINE = "medicine"
    GROCERIES = "groceries"
    PERSONAL_CARE = "personal_care"
    REPAIR = "repair"
    COMPANIONSHIP = "companionship"
    MEDICAL = "medical"
    OTHER = "other"


class InvitePolicy(enum.StrEnum):
    KNOWN = "known"
    ANYONE = "anyone"
