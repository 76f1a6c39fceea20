"""The Omise emulator's knobs (what it does wrong, on purpose) and the helpers its search and
charge list share. See :class:`~paymux_omise.emulator.OmiseEmulator`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

WriteEndpoint = Literal["charges", "sources", "refunds"]
WRITE_ENDPOINTS: tuple[WriteEndpoint, ...] = ("charges", "sources", "refunds")


@dataclass
class OmiseKnobs:
    """How the emulated Omise misbehaves. All off by default: a prompt, honest API.

    Change them on ``emulator.knobs`` (under ``emulator.lock``) or with :meth:`OmiseEmulator.tune`.
    """

    search_lag: float = 0.0
    """Seconds before a new charge shows up in ``GET /search`` (the list has no lag)."""
    per_page: int = 30
    """Search results a page, as Omise's search answers by default."""
    refund_delay: float = 0.0
    """Seconds a refund stays ``pending`` before it closes (and its webhook is sent)."""
    refund_decline_rate: float = 0.0
    """Probability that Omise refuses a refund (``failed_refund``); nothing is refunded."""
    decline_refunds: int = 0
    """The next this many refunds are refused (one-shot, before the rate)."""
    answer_lost_rate: float = 0.0
    """Probability that a write is processed and then its answer is lost (connection cut)."""
    lose_answers: dict[str, int] = field(default_factory=dict)
    """One-shot: endpoint (``charges``, ``sources``, ``refunds``) -> how many answers to lose."""
    seed: int | None = None
    clock_offset: timedelta = timedelta(0)
    """Added to real time for everything the emulator stamps and checks (``paid_at``, the refund
    window): ``timedelta(days=1)`` makes yesterday's payments past their refund window."""
    decline_code: str = "payment_rejected"
    """The ``failure_code`` a declining customer produces: any code of seed 004's KakaoPay list
    (``payment_expired``, ``payment_rejected``, ``failed_processing``, ``invalid_account``,
    ``insufficient_fund``)."""
    abandon_as_failed: bool = False
    """A customer who walks away leaves the charge ``failed`` + ``payment_expired`` (the other
    way Omise reports it) instead of ``expired``."""
    account_version: str = "2019-05-29"
    """The account's default API version: answers without ``Omise-Version``, and webhooks."""
    country: str = "SG"
    """The account's country, as ``GET /capability`` reports it (SG or TH)."""


class AnswerLost(Response):
    """The emulator has acted; the connection dies before the answer is complete."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        # The message names a sandbox fault so the server's log filter keeps quiet about it.
        raise ConnectionAbortedError("sandbox fault: answer lost after the emulator acted")


def words(value: str) -> set[str]:
    return set(re.findall(r"[0-9a-z]+", value.lower()))


def when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
