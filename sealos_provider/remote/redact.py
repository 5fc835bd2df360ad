"""Redaction of secret values from every log line and exception text.

A secret can leak in a form other than the one given: a PEM key is printed one line at a time, a password may appear
next to other text. So each secret is registered whole and, when it spans several lines, line by line too (lines
shorter than `MIN_LINE` are skipped there, since e.g. a lone `-----END` marker or an empty line is not secret and
redacting it would shred unrelated output; the whole secret is still redacted however short it is).
"""

from __future__ import annotations

from typing import Iterable

MASK = "***"
MIN_LINE = 8


class Redactor:
    """Replaces every known secret value by `***`. Longer secrets are replaced first, so a secret that contains
    another is masked whole."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str | bytes | None) -> None:
        changed = False
        for secret in secrets:
            if secret is None:
                continue
            if isinstance(secret, bytes):
                secret = secret.decode("utf-8", "replace")
            for value in self._forms(secret):
                if value and value not in self._secrets:
                    self._secrets.add(value)
                    changed = True
        if changed:
            self._ordered = sorted(self._secrets, key=len, reverse=True)

    @staticmethod
    def _forms(secret: str) -> list[str]:
        forms = [secret]
        stripped = secret.strip()
        if stripped != secret:
            forms.append(stripped)
        if "\n" in stripped:
            forms.extend(line.strip() for line in stripped.splitlines() if len(line.strip()) >= MIN_LINE)
        return forms

    def __bool__(self) -> bool:
        return bool(self._ordered)

    def redact(self, text: str) -> str:
        """`text` with every known secret replaced by `***`."""
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __call__(self, text: str) -> str:
        return self.redact(text)
