"""Merchant references: one reference is one payment attempt.

A reference names one attempt to take a payment. Sending it again (a retry after a lost
answer, a double click) returns that attempt's charge, whatever became of it, and never makes a
second payment. A new attempt for the same order (the customer was declined and tries again)
needs a new reference: :func:`attempt_reference` makes them from the order id.
"""

from __future__ import annotations

import re

from .errors import InvalidRequest

_REFERENCE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_MAX = 64


def attempt_reference(order_id: str, attempt: int) -> str:
    """The reference of the ``attempt``-th payment attempt (1, 2, ...) for ``order_id``.

    >>> attempt_reference("order-345678", 1)
    'order-345678.1'
    >>> attempt_reference("order-345678", 2)
    'order-345678.2'

    Distinct (order, attempt) pairs never give the same reference.
    """
    if not isinstance(order_id, str) or not _REFERENCE.fullmatch(order_id):
        raise InvalidRequest(
            "must be 1-64 characters of letters, digits and . _ : -", field="order_id"
        )
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise InvalidRequest("must be a whole number from 1", field="attempt")
    reference = f"{order_id}.{attempt}"
    if len(reference) > _MAX:
        raise InvalidRequest(
            f"with the attempt number the reference would be {len(reference)} characters;"
            f" references hold at most {_MAX}",
            field="order_id",
        )
    return reference
