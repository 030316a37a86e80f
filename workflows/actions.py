"""Opaque, signed button tokens.

A button carries `kind.ref.arg.person.signature`: what it does, to what, for whom it
was issued, and a MAC (keyed BLAKE2b; HMAC-SHA256 before, still accepted) so a forged
token is refused. Whether it may still be used
(a check-in already answered, an alert already acknowledged) is decided from the
stored state when it is pressed, so a replay changes nothing. Tokens fit in
Telegram's 64-byte callback data.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from dataclasses import dataclass

from core.ids import PersonId


class ActionKind(enum.StrEnum):
    CHECKIN_OK = "ok"
    CHECKIN_HELP = "hlp"
    ALERT_ACK = "ack"
    ALERT_RESOLVE_MENU = "res"
    ALERT_OUTCOME = "out"
    NEED_CLAIM = "ncl"
    NEED_DONE = "ndn"
    CONCERN_YES = "cy"
    CONCERN_NO = "cn"
    CALL_OK = "cok"
    CALL_HELP = "chl"
    CALL_NO_ANSWER = "cna"
    CONSENT_YES = "ay"
    CONSENT_NO = "an"
    FORGET_YES = "fy"
    FORGET_NO = "fn"


@dataclass(frozen=True)
class ActionToken:
    kind: ActionKind
    ref: int
    arg: str
    issued_to: PersonId


# base64 → its URL-safe alphabet (what base64.urlsafe_b64encode does, without its calls).
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_BLAKE2B_KEY_MAX = 64


class ActionSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("action key too short")
        self._key = key
        # Keyed BLAKE2b is a MAC in one pass (HMAC hashes twice): a round signs two
        # buttons per resident, and this was a sixth of its time.
        self._mac_key = key if len(key) <= _BLAKE2B_KEY_MAX else hashlib.blake2b(key).digest()

    def _sign(self, body: str) -> str:
        digest = hashlib.blake2b(body.encode(), key=self._mac_key, digest_size=9).digest()
        return binascii.b2a_base64(digest, newline=False).translate(_URLSAFE).decode()

    def _sign_before(self, body: str) -> str:
        """The signature of buttons sent before keyed BLAKE2b: they stay in people's
        chats, and pressing one must still work."""
        digest = hmac.digest(self._key, body.encode(), "sha256")[:9]
        return base64.urlsafe_b64encode(digest).decode()

    def token(self, kind: ActionKind, ref: int, issued_to: PersonId, arg: str = "") -> str:
        if "." in arg:
            raise ValueError("action arg may not contain '.'")
        # A StrEnum formats as its value.
        body = f"{kind}.{ref}.{arg}.{issued_to}"
        token = f"{body}.{self._sign(body)}"
        if len(token) > 60 or (not token.isascii() and len(token.encode()) > 60):
            raise ValueError("action token too long for Telegram callback data")
        return token

    def verify(self, token: str) -> ActionToken | None:
        parts = token.split(".")
        if len(parts) != 5:
            return None
        body, signature = ".".join(parts[:4]), parts[4]
        if not hmac.compare_digest(self._sign(body), signature) and not hmac.compare_digest(
            self._sign_before(body), signature
        ):
            return None
        kind, ref, arg, person = parts[:4]
        try:
            return ActionToken(ActionKind(kind), int(ref), arg, PersonId(int(person)))
        except ValueError:
            return None
