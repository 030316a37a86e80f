"""Telling the gateway's messages apart by their text, read from carecheck's own
templates (workflows/texts), so the chaos check follows any rewording of them."""

from __future__ import annotations

import re
import string

from workflows.texts import LANGUAGES

LANGUAGE = "zh"
# Fields whose value is a number in every template that has them.
_NUMBERS = frozenset({"alert", "need", "n", "count", "missed"})


def _template(key: str) -> str:
    table = LANGUAGES[LANGUAGE]
    return table.get(key) or LANGUAGES["zh"].get(key, "")


def pattern(template: str) -> str:
    """A regular expression for the texts a template renders to."""
    out = []
    seen: set[str] = set()
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(re.escape(literal))
        if field is None:
            continue
        if field in seen:
            out.append(f"(?P={field})")
            continue
        seen.add(field)
        out.append(f"(?P<{field}>\\d+)" if field in _NUMBERS else f"(?P<{field}>.*?)")
    return "".join(out)


def render(key: str, **fields: object) -> str:
    return _template(key).format(**fields)


class Classifier:
    def __init__(self) -> None:
        self.ok_label = render("btn_ok")
        self.help_label = render("btn_help")
        self.ack_label = render("btn_ack")
        self.resolve_label = render("btn_resolve")
        # A family contact is asked "接收R00001的提醒？" before anything about them.
        self.consent_yes_label = render("btn_consent_yes")
        self._thanks = render("thanks")
        # On Matrix a message with choices lists them after a blank line.
        end = r"(?:\n\n.*)?\Z"
        self._prompt = re.compile(pattern(_template("checkin")) + end, re.S)
        self._reminder = re.compile(pattern(_template("reminder")) + end, re.S)
        self._help_told = [
            re.compile(pattern(_template(key)) + end, re.S)
            for key in ("help_contacting", "help_contacting_community", "help_on_the_way")
            if _template(key)
        ]
        # An alert copy starts with its kind's head: the first two lines of the template
        # ("⚠️ 未回复问候 #12" / "R00012（B3-12）"); an upgraded one has a line before it.
        self._heads = [
            re.compile(pattern("\n".join(_template(key).split("\n")[:2])), re.S)
            for key in ("alert_missed", "alert_help", "alert_unreachable", "alert_concern")
            if _template(key)
        ]
        self._urgent = render("alert_now_urgent")
        self._exhausted = re.compile(pattern(_template("alert_exhausted")), re.S)
        stand_down = pattern(_template("alert_footer_stand_down"))
        self._stand_down = re.compile(stand_down + r".*?#(?P<alert>\d+)", re.S)
        self._menu = re.compile(pattern(_template("choose_outcome")), re.S)
        self._resident = re.compile(r"R(\d{5})\Z")

    def outcome_label(self, outcome: str) -> str:
        return render(f"outcome_{outcome}")

    def resident_index(self, name: str) -> int | None:
        found = self._resident.match(name.strip())
        return int(found.group(1)) if found else None

    def resident_kind(self, text: str, name: str) -> str:
        """prompt, reminder, thanks, help_told or other."""
        if text.split("\n\n")[0] == self._thanks:
            return "thanks"
        found = self._prompt.match(text)
        if found and found.groupdict().get("name", name) == name:
            return "prompt"
        found = self._reminder.match(text)
        if found and found.groupdict().get("name", name) == name:
            return "reminder"
        if any(p.match(text) for p in self._help_told):
            return "help_told"
        return "other"

    def alert_copy(self, text: str) -> tuple[int, str] | None:
        """(alert id, resident name) of a copy of an alert, else None."""
        body = text
        if body.startswith(self._urgent + "\n"):
            body = body[len(self._urgent) + 1 :]
        for head in self._heads:
            found = head.match(body)
            if found and "alert" in found.groupdict():
                return int(found.group("alert")), found.groupdict().get("name", "")
        return None

    def alert_id(self, text: str) -> int | None:
        copy = self.alert_copy(text)
        return None if copy is None else copy[0]

    def exhausted(self, text: str) -> int | None:
        found = self._exhausted.match(text)
        return int(found.group("alert")) if found else None

    def stand_down(self, text: str) -> int | None:
        found = self._stand_down.match(text)
        return int(found.group("alert")) if found else None

    def outcome_menu(self, text: str) -> int | None:
        found = self._menu.match(text)
        return int(found.group("alert")) if found else None
