"""The bad-input table for the Ledger (issue 12, items 3 and 4), on SQLite and on PostgreSQL.

Every row must end in a typed paymux error naming the argument, before the provider is asked
anything and before the database is written: no raw ``IntegrityError``, ``DataError``,
``OperationalError``, ``TypeError`` or ``ValueError``. The two backends must also accept the
same inputs: a value at a column's width is stored on both (SQLite would keep a longer one that
PostgreSQL refuses, so the limits are checked by paymux, not left to the database).
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ledger_support import charge_request
from ledgerpay import LedgerPayApi, async_gateway, gateway, sign
from postgres_db import fresh_database
from security_support import (
    dumps,
    omise_api,
    omise_charge,
    omise_event,
    omise_settings,
)

from paymux import (
    AsyncLedger,
    Charge,
    ChargeStatus,
    Gateway,
    Ledger,
    Money,
    WebhookEvent,
)
from paymux.errors import (
    ConfigurationError,
    InvalidRequest,
    PaymuxError,
    WebhookParseError,
    WebhookVerificationError,
)
from paymux.ledger import LedgerError

SIGNATURE_HEADER = "x-ledgerpay-signature"


@dataclass(frozen=True)
class Row:
    call: Callable[[Ledger], Any]
    field: str | None = None
    error: type[PaymuxError] = InvalidRequest


def _signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"id": event_id, "type": "charge.updated", "data": {"id": "ch_x", "state": "paid"}}
    ).encode()
    return body, {SIGNATURE_HEADER: sign(body)}


def _event(event_id: str) -> WebhookEvent:
    return WebhookEvent(provider="ledgerpay", id=event_id)


def _unreferenced_charge() -> Charge:
    return Charge(
        provider="ledgerpay",
        id="ch_1",
        amount=Money(10_000, "KRW"),
        status=ChargeStatus.SUCCEEDED,
    )


ROWS: dict[str, Row] = {
    # create_charge
    "create-not-a-request": Row(lambda led: led.create_charge({"amount": 1}), "request"),
    "create-provider-as-list": Row(
        lambda led: led.create_charge(charge_request("order-9"), provider=["ledgerpay"]),
        "provider",
    ),
    "create-unknown-provider": Row(
        lambda led: led.create_charge(charge_request("order-9"), provider="stripe"),
        error=ConfigurationError,
    ),
    # reads by reference
    "get-not-text": Row(lambda led: led.get(5), "reference"),
    "get-nul": Row(lambda led: led.get("order\x001"), "reference"),
    "get-too-long": Row(lambda led: led.get("r" * 65), "reference"),
    "entry-list": Row(lambda led: led.entry(["order-1"]), "reference"),
    "flags-bytes": Row(lambda led: led.flags(b"order-1"), "reference"),
    "refresh-none": Row(lambda led: led.refresh(None), "reference"),
    "refresh-newline": Row(lambda led: led.refresh("order-1\n"), "reference"),
    # wait
    "wait-until-unknown-name": Row(lambda led: led.wait("order-1", until="paid"), "until"),
    "wait-until-number": Row(lambda led: led.wait("order-1", until=5), "until"),
    "wait-until-empty": Row(lambda led: led.wait("order-1", until=[]), "until"),
    "wait-until-bad-member": Row(
        lambda led: led.wait("order-1", until=[ChargeStatus.FAILED, "nope"]), "until"
    ),
    "wait-timeout-text": Row(lambda led: led.wait("order-1", timeout="1"), "timeout"),
    "wait-timeout-negative": Row(lambda led: led.wait("order-1", timeout=-1), "timeout"),
    "wait-timeout-nan": Row(lambda led: led.wait("order-1", timeout=math.nan), "timeout"),
    "wait-reference-nul": Row(lambda led: led.wait("\x00", timeout=0), "reference"),
    # reconcile
    "reconcile-limit-text": Row(lambda led: led.reconcile(limit="x"), "limit"),
    "reconcile-limit-negative": Row(lambda led: led.reconcile(limit=-1), "limit"),
    "reconcile-limit-zero": Row(lambda led: led.reconcile(limit=0), "limit"),
    "reconcile-limit-bool": Row(lambda led: led.reconcile(limit=True), "limit"),
    "reconcile-limit-float": Row(lambda led: led.reconcile(limit=1.5), "limit"),
    "reconcile-limit-past-64-bits": Row(lambda led: led.reconcile(limit=2**63), "limit"),
    "reconcile-older-than-seconds": Row(lambda led: led.reconcile(older_than=300), "older_than"),
    "reconcile-older-than-negative": Row(
        lambda led: led.reconcile(older_than=timedelta(seconds=-1)), "older_than"
    ),
    "reconcile-older-than-forever": Row(
        lambda led: led.reconcile(older_than=timedelta.max), "older_than"
    ),
    "reconcile-progress-not-callable": Row(lambda led: led.reconcile(progress=5), "progress"),
    # refund
    "refund-charge-number": Row(lambda led: led.refund(5), "charge"),
    "refund-charge-nul": Row(lambda led: led.refund("order\x00"), "charge"),
    "refund-charge-too-long": Row(lambda led: led.refund("o" * 65), "charge"),
    "refund-charge-without-reference": Row(
        lambda led: led.refund(_unreferenced_charge()), "charge"
    ),
    "refund-amount-int": Row(lambda led: led.refund("order-1", 5), "amount"),
    "refund-amount-float": Row(lambda led: led.refund("order-1", 5.0), "amount"),
    "refund-reason-over-255": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), "r" * 256), "reason"
    ),
    "refund-reason-nul": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), "broken\x00"), "reason"
    ),
    "refund-reason-newline": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), "line\nbreak"), "reason"
    ),
    "refund-reason-number": Row(lambda led: led.refund("order-1", Money(1, "KRW"), 7), "reason"),
    "refund-reference-5000": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), reference="r" * 5_000), "reference"
    ),
    "refund-reference-129": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), reference="r" * 129), "reference"
    ),
    "refund-reference-nul": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), reference="r-\x00"), "reference"
    ),
    "refund-reference-newline": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), reference="r-1\n"), "reference"
    ),
    "refund-reference-empty": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), reference=""), "reference"
    ),
    "refund-reference-number": Row(
        lambda led: led.refund("order-1", Money(1, "KRW"), reference=7), "reference"
    ),
    # apply_event / handle_webhook
    "apply-not-an-event": Row(lambda led: led.apply_event({"id": "e"}), "event"),
    "apply-event-id-over-255": Row(lambda led: led.apply_event(_event("e" * 256)), "event.id"),
    "apply-event-id-nul": Row(lambda led: led.apply_event(_event("e\x00")), "event.id"),
    "apply-event-type-over-64": Row(
        # The model refuses such a type; the ledger still must, for an event built around it.
        lambda led: led.apply_event(
            WebhookEvent.model_construct(provider="ledgerpay", id="e-1", type="t" * 65)
        ),
        "event.type",
    ),
    "webhook-provider-list": Row(lambda led: led.handle_webhook(["ledgerpay"], b"{}"), "provider"),
    "webhook-body-number": Row(lambda led: led.handle_webhook("ledgerpay", 5), "body"),
    "webhook-headers-list": Row(
        lambda led: led.handle_webhook("ledgerpay", b"{}", [("a", "b")]), "headers"
    ),
    "webhook-forged": Row(
        lambda led: led.handle_webhook("ledgerpay", *_signed("evt-forged")[:1], {}),
        error=WebhookVerificationError,
    ),
    "webhook-signed-id-over-255": Row(
        lambda led: led.handle_webhook("ledgerpay", *_signed("e" * 300)),
        error=WebhookParseError,
    ),
}

# Values at a column's width: stored on both backends (the limits are the same everywhere).
ACCEPTED: dict[str, Callable[[Ledger], Any]] = {
    "refund-reason-255-and-reference-128": lambda led: led.refund(
        "order-1", Money(1, "KRW"), "r" * 255, reference="x" * 128
    ),
    "event-id-255": lambda led: led.apply_event(_event("e" * 255)),
    "wait-until-status-name": lambda led: led.wait("order-1", until="succeeded", timeout=0),
    "wait-until-names": lambda led: led.wait(
        "order-1", until=("succeeded", ChargeStatus.REFUNDED), timeout=0
    ),
    "reconcile-limit-1": lambda led: led.reconcile(limit=1),
    "get-64": lambda led: led.get("r" * 64),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}"
        return
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def setup(database: str) -> Iterator[tuple[Ledger, LedgerPayApi]]:
    """A ledger holding one paid charge, ``order-1`` (10,000 KRW)."""
    api = LedgerPayApi()
    with gateway(api) as gw, Ledger(gw, url=database) as led:
        charge = led.create_charge(charge_request("order-1"))
        api.set_state(charge.id, "paid")
        led.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
        yield led, api


def _rows_in_db(led: Ledger) -> tuple[int, ...]:
    from sqlalchemy import func, select

    from paymux.ledger import schema

    tables = (schema.charges, schema.refunds, schema.events, schema.flags)
    return led.store.read(
        lambda c: tuple(c.execute(select(func.count()).select_from(t)).scalar_one() for t in tables)
    )


def _assert_names_the_argument(row: Row, error: PaymuxError) -> None:
    assert isinstance(error, row.error), f"{type(error).__name__}: {error}"
    if row.field is not None:
        assert isinstance(error, InvalidRequest)
        assert error.field == row.field, str(error)


@pytest.mark.parametrize("name", list(ROWS))
def test_ledger_refuses_bad_input_naming_the_argument(
    setup: tuple[Ledger, LedgerPayApi], name: str
) -> None:
    led, api = setup
    row = ROWS[name]
    sent, stored = len(api.requests), _rows_in_db(led)
    with pytest.raises(PaymuxError) as info:
        row.call(led)
    _assert_names_the_argument(row, info.value)
    assert len(api.requests) == sent, "the provider was asked"
    assert _rows_in_db(led) == stored, "the database was written"


async def _awaited(call: Callable[[Any], Any], ledger: AsyncLedger) -> Any:
    # entry(), flags() and schema_version() are synchronous on AsyncLedger too.
    result = call(ledger)
    return await result if inspect.isawaitable(result) else result


@pytest.mark.parametrize("name", list(ROWS))
async def test_async_ledger_refuses_bad_input_naming_the_argument(
    setup: tuple[Ledger, LedgerPayApi], database: str, name: str
) -> None:
    led, api = setup
    row = ROWS[name]
    sent, stored = len(api.requests), _rows_in_db(led)
    async with (
        async_gateway(api) as agw,
        AsyncLedger(agw, url=database) as aled,
    ):
        with pytest.raises(PaymuxError) as info:
            await _awaited(row.call, aled)
    _assert_names_the_argument(row, info.value)
    assert len(api.requests) == sent, "the provider was asked"
    assert _rows_in_db(led) == stored, "the database was written"


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_both_backends_accept_values_at_the_column_width(
    setup: tuple[Ledger, LedgerPayApi], name: str
) -> None:
    led, _ = setup
    ACCEPTED[name](led)


def test_the_accepted_values_are_stored_whole(setup: tuple[Ledger, LedgerPayApi]) -> None:
    led, _ = setup
    refund = led.refund("order-1", Money(2, "KRW"), "why " * 63 + "end", reference="y" * 128)
    entry = led.entry("order-1")
    assert entry is not None
    assert "y" * 128 in {r.reference for r in entry.refunds}
    assert refund.reference == "y" * 128


# -- an unsigned Omise callback (verified by re-fetching the charge) ------------------------------


@pytest.mark.parametrize("event_id", ["e" * 300, "evnt_test_\x00", "evnt test", ""])
def test_unsigned_omise_webhook_with_an_odd_event_id_is_refused_before_the_database(
    database: str, event_id: str
) -> None:
    """A 300-character id reached the 255-character column: a 500 on PostgreSQL."""
    charge = omise_charge()
    transport = omise_api(lambda cid: charge if cid == charge["id"] else None)
    settings = omise_settings(webhook_secret=None, refetch_webhooks=True)
    body = dumps({**omise_event(charge), "id": event_id})
    with (
        Gateway(providers={"omise": settings}, http_client=httpx.Client(transport=transport)) as gw,
        Ledger(gw, url=database) as led,
    ):
        with pytest.raises(WebhookVerificationError):
            led.handle_webhook("omise", body, {})
        assert led.flags() == ()


# -- the ledger's own settings and an unreachable database ----------------------------------------


def _gateway() -> Gateway:
    return gateway(LedgerPayApi())


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda gw: Ledger(gw, 5), "url"),
        (lambda gw: Ledger(gw, "sqlite://", busy_timeout="30"), "busy_timeout"),
        (lambda gw: Ledger(gw, "sqlite://", busy_timeout=-1), "busy_timeout"),
        (lambda gw: Ledger(gw, "sqlite://", busy_timeout=1e300), "busy_timeout"),
        (lambda gw: Ledger(gw, "sqlite://", clock="now"), "clock"),
        (lambda gw: Ledger(gw, "sqlite://", echo="yes"), "echo"),
        (lambda gw: Ledger(gw, "sqlite://", create_lease=120), "create_lease"),
        (lambda gw: Ledger(gw, "sqlite://", create_lease=timedelta.max), "create_lease"),
        (
            lambda gw: Ledger(gw, "sqlite://", refund_release_after=timedelta.max),
            "refund_release_after",
        ),
        (lambda gw: Ledger("gateway", "sqlite://"), "gateway"),
    ],
)
def test_ledger_settings_are_checked(make: Callable[[Gateway], Ledger], field: str) -> None:
    with _gateway() as gw, pytest.raises(InvalidRequest) as info:
        make(gw)
    assert info.value.field == field


def test_a_sqlite_file_in_a_missing_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with _gateway() as gw, pytest.raises(ConfigurationError, match="not a directory"):
        Ledger(gw, f"sqlite:///{tmp_path / 'missing' / 'x.db'}")


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://paymux:pw-Secret-42@127.0.0.1:1/paymux", "sqlite:////proc/paymux.db"],
)
def test_an_unreachable_database_is_a_ledger_error_saying_what_to_do(url: str) -> None:
    with _gateway() as gw, Ledger(gw, url) as led:
        for call in (lambda: led.get("order-1"), lambda: led.reconcile(), led.schema_version):
            with pytest.raises(LedgerError) as info:
                call()
            message = str(info.value)
            assert "cannot be reached or opened" in message
            assert "pw-Secret-42" not in message
