"""Ledger.charges / Ledger.refunds pages, Ledger.cancel_charge (abandon where the provider has no
cancel, flag a late success), metadata kept by the ledger, and the schema 1 -> 2 migration."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from any_argument import any_argument
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import Clock, charge_request
from ledgerpay import LedgerPayApi, async_gateway, gateway
from sqlalchemy import create_engine, inspect, text

from paymux import ChargeStatus, Gateway, Ledger, Money
from paymux.errors import InvalidRequest
from paymux.ledger import SCHEMA_VERSION, AsyncLedger, Page


def _all_pages(ledger: Ledger, **query: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = ledger.charges(cursor=cursor, **query)  # type: ignore[arg-type]
        seen += [c.reference or "" for c in page]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def _made(ledger: Ledger, clock: Clock, references: list[str]) -> None:
    for reference in references:
        ledger.create_charge(charge_request(reference))
        clock.advance(seconds=1)


def test_pages_are_oldest_first_and_join_to_every_charge(ledger: Ledger, clock: Clock) -> None:
    references = [f"order-{i:02d}" for i in range(7)]
    _made(ledger, clock, references)
    first = ledger.charges(limit=3)
    assert isinstance(first, Page)
    assert [c.reference for c in first] == references[:3]
    assert first.next_cursor is not None
    assert _all_pages(ledger, limit=3) == references
    assert ledger.charges(limit=7).next_cursor is None


def test_a_cursor_survives_charges_recorded_between_pages(ledger: Ledger, clock: Clock) -> None:
    _made(ledger, clock, ["a-1", "a-2", "a-3"])
    first = ledger.charges(limit=2)
    # Same created_at as the last one read, and a later one: neither repeats nor hides a row.
    clock.advance(seconds=-1)
    ledger.create_charge(charge_request("a-4"))
    clock.advance(seconds=5)
    ledger.create_charge(charge_request("a-5"))
    rest = ledger.charges(limit=10, cursor=first.next_cursor)
    assert [c.reference for c in first] + [c.reference for c in rest] == [
        "a-1",
        "a-2",
        "a-3",
        "a-4",
        "a-5",
    ]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(1, 9), limit=st.integers(1, 10))
def test_any_page_size_lists_each_charge_once(tmp_path: Path, size: int, limit: int) -> None:
    clock = Clock()
    api = LedgerPayApi()
    url = f"sqlite:///{tmp_path / f'pages-{size}-{limit}.db'}"
    with gateway(api) as gw, Ledger(gw, url=url, clock=clock) as ledger:
        if not ledger.charges(limit=1).items:
            # Two charges share each moment, so the reference breaks the ties.
            for i in range(size):
                ledger.create_charge(charge_request(f"p-{i}"))
                if i % 2:
                    clock.advance(seconds=1)
        listed = _all_pages(ledger, limit=limit)
        assert listed == sorted(listed, key=lambda r: (int(r.split("-")[1]) // 2, r))
        assert sorted(listed) == sorted(f"p-{i}" for i in range(size))


def test_filters(ledger: Ledger, api: LedgerPayApi, clock: Clock) -> None:
    start = clock.now
    _made(ledger, clock, ["shop1-1", "shop1-2", "shop2-1"])
    api.set_state(api.by_ref("shop1-2")["id"], "paid")
    ledger.refresh("shop1-2")
    assert [c.reference for c in ledger.charges(status="succeeded")] == ["shop1-2"]
    assert [
        c.reference
        for c in ledger.charges(status=[ChargeStatus.PENDING, ChargeStatus.REQUIRES_ACTION])
    ] == [
        "shop1-1",
        "shop2-1",
    ]
    assert [c.reference for c in ledger.charges(reference_prefix="shop1-")] == [
        "shop1-1",
        "shop1-2",
    ]
    window = ledger.charges(since=start + timedelta(seconds=1), until=start + timedelta(seconds=1))
    assert [c.reference for c in window] == ["shop1-2"]
    assert ledger.charges(provider="ledgerpay").items
    assert not ledger.charges(provider="elsewhere").items


def test_a_prefix_is_not_a_pattern(ledger: Ledger, clock: Clock) -> None:
    _made(ledger, clock, ["a_b-1", "axb-1"])
    assert [c.reference for c in ledger.charges(reference_prefix="a_b")] == ["a_b-1"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"status": "paid"}, "status"),
        ({"status": []}, "status"),
        ({"since": datetime(2026, 1, 1)}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJyZWZ1bmRzIiwxXQ"}, "cursor"),  # a refunds cursor
        ({"reference_prefix": "bad prefix\n"}, "reference_prefix"),
        ({"abandoned": "yes"}, "abandoned"),
    ],
)
def test_bad_arguments_are_named(ledger: Ledger, arguments: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        ledger.charges(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_refunds_are_rows_you_can_page(ledger: Ledger, api: LedgerPayApi, clock: Clock) -> None:
    _made(ledger, clock, ["r-1", "r-2"])
    for reference in ("r-1", "r-2"):
        api.set_state(api.by_ref(reference)["id"], "paid")
        ledger.refresh(reference)
    ledger.refund("r-1", Money(1_000, "KRW"), reference="r-1-a")
    ledger.refund("r-1", Money(2_000, "KRW"), reference="r-1-b")
    ledger.refund("r-2", None, reference="r-2-a")
    of_one = ledger.refunds("r-1")
    assert [(r.reference, r.amount) for r in of_one] == [
        ("r-1-a", Money(1_000, "KRW")),
        ("r-1-b", Money(2_000, "KRW")),
    ]
    assert {r.charge_reference for r in of_one} == {"r-1"}
    first = ledger.refunds(limit=2)
    assert first.next_cursor is not None
    rest = ledger.refunds(limit=2, cursor=first.next_cursor)
    assert [r.reference for r in [*first, *rest]] == ["r-1-a", "r-1-b", "r-2-a"]
    assert rest.next_cursor is None
    statuses = {r.status for r in ledger.refunds()}
    assert [r.reference for r in ledger.refunds(status=sorted(statuses))] == [
        "r-1-a",
        "r-1-b",
        "r-2-a",
    ]
    with pytest.raises(InvalidRequest) as caught:
        ledger.refunds(status="done")
    assert caught.value.field == "status"


def test_metadata_is_kept_though_the_provider_keeps_none(ledger: Ledger, api: LedgerPayApi) -> None:
    request = charge_request("m-1").model_copy(update={"metadata": {"order": "345", "cart": "7"}})
    created = ledger.create_charge(request)
    assert created.metadata == {"order": "345", "cart": "7"}
    api.set_state(api.by_ref("m-1")["id"], "paid")
    refreshed = ledger.refresh("m-1")
    assert refreshed is not None and refreshed.status is ChargeStatus.SUCCEEDED
    assert refreshed.metadata == {"order": "345", "cart": "7"}
    got = ledger.get("m-1")
    assert got is not None and got.metadata == {"order": "345", "cart": "7"}
    assert ledger.charges().items[0].metadata == {"order": "345", "cart": "7"}


def test_cancel_without_a_provider_cancel_abandons_and_flags_a_late_payment(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    ledger.create_charge(charge_request("c-1"))
    assert ledger.abandoned_at("c-1") is None
    charge = ledger.cancel_charge("c-1")
    # Still open: reconcile keeps asking the provider about it.
    assert not charge.status.is_final
    assert ledger.abandoned_at("c-1") == clock.now
    assert [c.reference for c in ledger.charges(abandoned=True)] == ["c-1"]
    assert ledger.cancel_charge("c-1").reference == "c-1"  # a second cancel changes nothing
    assert ledger.abandoned_at("c-1") == clock.now
    api.set_state(api.by_ref("c-1")["id"], "paid")
    clock.advance(minutes=30)
    report = ledger.reconcile(older_than=timedelta(minutes=5))
    assert report.changed == 1 and report.flagged == 1
    assert ledger.get("c-1").status is ChargeStatus.SUCCEEDED  # type: ignore[union-attr]
    assert [f.kind for f in ledger.flags("c-1")] == ["late_success"]


def test_a_charge_never_abandoned_is_not_flagged(ledger: Ledger, api: LedgerPayApi) -> None:
    ledger.create_charge(charge_request("c-2"))
    api.set_state(api.by_ref("c-2")["id"], "paid")
    ledger.refresh("c-2")
    assert ledger.flags("c-2") == ()


def test_cancel_refuses_what_cannot_be_canceled(ledger: Ledger, api: LedgerPayApi) -> None:
    with pytest.raises(InvalidRequest) as unknown:
        ledger.cancel_charge("never-made")
    assert unknown.value.field == "reference"
    ledger.create_charge(charge_request("c-3"))
    api.set_state(api.by_ref("c-3")["id"], "paid")
    ledger.refresh("c-3")
    with pytest.raises(InvalidRequest, match="refund a paid one"):
        ledger.cancel_charge("c-3")
    assert ledger.abandoned_at("c-3") is None


async def test_the_async_ledger_has_the_same_queries(
    tmp_path: Path, api: LedgerPayApi, clock: Clock
) -> None:
    async with (
        async_gateway(api) as agw,
        AsyncLedger(agw, url=f"sqlite:///{tmp_path / 'a.db'}", clock=clock) as ledger,
    ):
        request = charge_request("as-1").model_copy(update={"metadata": {"k": "v"}})
        await ledger.create_charge(request)
        clock.advance(seconds=1)
        await ledger.create_charge(charge_request("as-2"))
        page = await ledger.charges(limit=1)
        assert [(c.reference, c.metadata) for c in page] == [("as-1", {"k": "v"})]
        rest = await ledger.charges(cursor=page.next_cursor)
        assert [c.reference for c in rest] == ["as-2"] and rest.next_cursor is None
        canceled = await ledger.cancel_charge("as-2")
        assert not canceled.status.is_final
        assert ledger.abandoned_at("as-2") == clock.now
        assert (await ledger.refunds()).items == ()


def test_a_schema_1_database_is_migrated_in_place(tmp_path: Path, gw: Gateway) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with Ledger(gw, url=url) as ledger:
        ledger.create_charge(charge_request("old-1"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE paymux_charges DROP COLUMN charge_metadata"))
        conn.execute(text("ALTER TABLE paymux_charges DROP COLUMN abandoned_at"))
        conn.execute(text("UPDATE paymux_meta SET value = '1' WHERE key = 'schema_version'"))
    with Ledger(gw, url=url) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION == 2
        assert [c.reference for c in ledger.charges()] == ["old-1"]
        ledger.cancel_charge("old-1")
        assert ledger.abandoned_at("old-1") is not None
    columns = {c["name"] for c in inspect(engine).get_columns("paymux_charges")}
    assert {"charge_metadata", "abandoned_at"} <= columns
    engine.dispose()


def test_pages_hold_aware_times(ledger: Ledger) -> None:
    ledger.create_charge(charge_request("t-1"))
    row = ledger.refunds()
    assert row.items == ()
    charge = ledger.charges().items[0]
    assert charge.created_at is None or charge.created_at.tzinfo is not None
    assert ledger.charges(since=datetime(2020, 1, 1, tzinfo=UTC)).items


ANYTHING = any_argument(datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))))
FIELDS = (
    "status",
    "provider",
    "since",
    "until",
    "reference_prefix",
    "abandoned",
    "limit",
    "cursor",
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, ANYTHING)))
def test_charges_with_arguments_of_any_shape(ledger: Ledger, values: dict[str, object]) -> None:
    refused: InvalidRequest | None = None
    try:
        page = ledger.charges(**values)  # type: ignore[arg-type]
    except InvalidRequest as error:
        refused = error
    if refused is None:
        assert isinstance(page, Page)
    else:
        assert refused.field in FIELDS


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reference=ANYTHING, status=ANYTHING, limit=ANYTHING, cursor=ANYTHING)
def test_refunds_and_cancel_with_arguments_of_any_shape(
    ledger: Ledger, reference: object, status: object, limit: object, cursor: object
) -> None:
    with contextlib.suppress(InvalidRequest):
        ledger.refunds(reference, status=status, limit=limit, cursor=cursor)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        ledger.cancel_charge(reference)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_the_same_on_postgresql(postgres_url: str) -> None:
    api, clock = LedgerPayApi(), Clock()
    with gateway(api) as gw, Ledger(gw, url=postgres_url, clock=clock) as ledger:
        for reference in ("pg_1", "pgx1", "pg_2"):
            request = charge_request(reference).model_copy(update={"metadata": {"r": reference}})
            ledger.create_charge(request)
        clock.advance(seconds=1)
        ledger.create_charge(charge_request("pg_3"))
        assert _all_pages(ledger, limit=1, reference_prefix="pg_") == ["pg_1", "pg_2", "pg_3"]
        assert ledger.get("pg_2").metadata == {"r": "pg_2"}  # type: ignore[union-attr]
        ledger.cancel_charge("pg_1")
        api.set_state(api.by_ref("pg_1")["id"], "paid")
        ledger.refresh("pg_1")
        assert [f.kind for f in ledger.flags("pg_1")] == ["late_success"]
        ledger.refund("pg_1", Money(1_000, "KRW"), reference="pg_1-r")
        assert [r.reference for r in ledger.refunds("pg_1")] == ["pg_1-r"]
        assert [c.reference for c in ledger.charges(abandoned=True)] == ["pg_1"]
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE paymux_charges DROP COLUMN charge_metadata"))
        conn.execute(text("ALTER TABLE paymux_charges DROP COLUMN abandoned_at"))
        conn.execute(text("UPDATE paymux_meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()
    with gateway(api) as gw, Ledger(gw, url=postgres_url, clock=clock) as ledger:
        assert ledger.schema_version() == 2
        ledger.cancel_charge("pg_2")
        assert ledger.abandoned_at("pg_2") == clock.now
