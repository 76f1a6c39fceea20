"""Keeps secrets out of logs and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

from httpx import URL

REDACTED = "[redacted]"
_SENSITIVE_QUERY = frozenset({"signature", "secret", "secret_key", "token", "key"})


class Redactor:
    """Replaces every configured secret (and things derived from them) with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret that contains another is removed whole.
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def text(self, value: str) -> str:
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def url(self, url: URL) -> str:
        if not url.query and not url.userinfo:
            # Rebuilding a URL costs more than a provider call's parsing: only when needed.
            return self.text(str(url))
        if url.query:
            params = [
                (k, REDACTED if k.lower() in _SENSITIVE_QUERY else v)
                for k, v in url.params.multi_items()
            ]
            url = url.copy_with(params=params)
        return self.text(str(url.copy_with(username=None, password=None)))
