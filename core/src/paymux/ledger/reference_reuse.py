"""The error for a reference the ledger's own books hold for another request.

It is the meanings table's "reference reused", so it is the class the gateway raises for the
same situation (:class:`~paymux.errors.DuplicateRequest`): a user catches one class whichever
surface refused. The ledger finds it before anything is sent or written.
"""

from __future__ import annotations

from ..errors import DuplicateRequest

REFERENCE_REUSED = "reference_reused"
"""``DuplicateRequest.code`` when the ledger refused the reuse itself (no provider was asked)."""


def reference_reused(message: str, *, provider: str) -> DuplicateRequest:
    """``provider`` is the one holding the earlier request. ``message`` names what differs, never
    a secret."""
    return DuplicateRequest(message, provider=provider, code=REFERENCE_REUSED, nothing_done=True)
