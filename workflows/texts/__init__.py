"""All user-facing text, one module per language, with operator overrides from YAML."""

from __future__ import annotations

from collections.abc import Mapping

from core.config import template_fields
from workflows.texts import en, zh

LANGUAGES: dict[str, dict[str, str]] = {"zh": zh.TEXTS, "en": en.TEXTS}
DEFAULT_LANGUAGE = "zh"


def _allowed_fields(key: str) -> set[str]:
    fields: set[str] = set()
    for table in LANGUAGES.values():
        fields |= template_fields(table[key])
    return fields


def template_problems(key: str, text: str) -> str | None:
    """Why an operator's override of `key` cannot be used, or None when it can."""
    if key not in zh.TEXTS:
        return f"unknown template (known: {', '.join(sorted(zh.TEXTS))})"
    try:
        used = template_fields(text)
    except ValueError as exc:
        return f"broken placeholder: {exc}"
    unknown = used - _allowed_fields(key)
    if unknown:
        allowed = ", ".join(sorted(_allowed_fields(key))) or "none"
        return f"unknown placeholder {{{sorted(unknown)[0]}}} (this template may use: {allowed})"
    return None


class Texts:
    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._tables = {lang: dict(table) for lang, table in LANGUAGES.items()}
        for lang, table in (overrides or {}).items():
            self._tables[str(lang)].update(table)

    def render(self, language: str, key: str, **fields: object) -> str:
        table = self._tables.get(language) or self._tables[DEFAULT_LANGUAGE]
        template = table.get(key) or self._tables[DEFAULT_LANGUAGE][key]
        return template.format_map(_Lenient(fields))


class _Lenient(dict[str, object]):
    # An override that drops a placeholder is fine; a missing value shows as empty.
    def __missing__(self, key: str) -> str:
        return ""


def ui(language: str, key: str, **fields: object) -> str:
    """Labels of the dashboard and the local chat page."""
    table = en.UI if language == "en" else zh.UI
    return table[key].format_map(_Lenient(fields))
