"""What free text, references and URLs may contain before paymux sends or stores them.

Each check returns the problem as a sentence, or None: pydantic validators turn it into a
``ValueError`` (reported with the field's path), the gateways and the ledger into
:class:`~paymux.errors.InvalidRequest` naming the argument.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

REFERENCE_LENGTH = 64
"""A charge reference: the ledger's primary key column and every provider's id field."""
REFUND_REFERENCE_LENGTH = 128
"""A refund reference: the ledger's ``paymux_refunds.reference`` column."""
REASON_LENGTH = 255
"""A refund reason: the ledger's ``paymux_refunds.reason`` column."""
URL_LENGTH = 2048

_REFERENCE_CHARS = re.compile(r"[A-Za-z0-9._:\-]+")
# Exactly the Unicode categories Cc (C0/C1 controls: NUL, CR, LF, TAB, DEL...), Cs (lone
# surrogates, which no database or JSON encoder accepts as UTF-8) and Zl/Zp (line and paragraph
# separators, newlines in disguise). A regex rather than unicodedata per character: it runs on
# every charge request.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
# The same, plus every character str.isspace() accepts.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def text_problem(value: str, max_length: int) -> str | None:
    """Free text (names, reasons, descriptions): bounded, no control characters or NUL."""
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    if value.isascii() and value.isprintable():
        return None  # the usual case, decided without a look-up per character
    found = _CONTROL.search(value)
    if found is not None:
        return (
            f"contains the control character U+{ord(found.group()):04X}"
            " (no NUL, newline, tab or other control characters)"
        )
    return None


def reference_problem(value: str, max_length: int = REFERENCE_LENGTH) -> str | None:
    """An id paymux sends to providers and keys rows on: ASCII letters, digits and ``. _ : -``."""
    if not 1 <= len(value) <= max_length or not _REFERENCE_CHARS.fullmatch(value):
        return (
            f"must be 1-{max_length} characters of letters, digits and . _ : -"
            " (it is sent to providers as an id)"
        )
    return None


def url_problem(value: str) -> str | None:
    """An absolute http(s) URL with nothing a header or a redirect could be split on."""
    if len(value) > URL_LENGTH:
        return f"is longer than {URL_LENGTH} characters"
    if _SPACE_OR_CONTROL.search(value):
        # CR/LF and TAB inside, spaces around: the URL is echoed into redirects and signed
        # strings, where such characters split or change what the provider reads.
        return "contains spaces or control characters (percent-encode them)"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        return "is not a well-formed URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http(s) URL"
    return None
