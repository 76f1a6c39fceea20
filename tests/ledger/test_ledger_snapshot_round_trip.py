"""The ledger answers a webhook with the event's own ``Charge`` (``rows.as_stored``) instead of
parsing the snapshot it just wrote. That is only right if the snapshot's JSON round trip loses
nothing but what ``dump`` leaves out (``raw`` and the provider's refund list): these properties
hold the two equal for any charge, and the ledger's answer equal to what it stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from ledgerpay import SECRET, LedgerPay
from property_profiles import fast, thorough

from paymux import Charge, ChargeStatus, Gateway, Ledger, Money, RefundStatus, WebhookEvent
from paymux.errors import InvalidRequest
from paymux.ledger.row_writes import dump
from paymux.ledger.rows import as_stored
from paymux.models import Failure, Refund
from paymux.next_action import DisplayQrCode, ProvideInformation, RedirectToUrl, RequiredField
from paymux.status import FailureReason

CURRENCIES = ("KRW", "SGD", "THB", "JPY", "USD")
words = st.text(min_size=1, max_size=12)
maybe_words = st.none() | words
moments = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-3, minutes=-30))]
    ),
)
string_maps = st.dictionaries(words, st.text(max_size=12), max_size=3)


def money(currency: str, high: int = 10**12) -> st.SearchStrategy[Money]:
    return st.integers(0, high).map(lambda amount: Money(amount, currency))


failures = st.none() | st.builds(
    Failure, reason=st.sampled_from(FailureReason), code=maybe_words, message=maybe_words
)
next_actions = st.none() | st.one_of(
    st.builds(
        RedirectToUrl,
        url=words,
        method=st.sampled_from(["GET", "POST"]),
        form=st.lists(st.tuples(words, st.text(max_size=8)), max_size=3).map(tuple),
    ),
    st.builds(
        DisplayQrCode,
        data=maybe_words,
        image_png=st.none() | st.binary(max_size=16),
        image_url=maybe_words,
        expires_at=moments,
    ),
    st.builds(
        ProvideInformation,
        fields=st.lists(st.builds(RequiredField, name=words), min_size=1, max_size=2).map(tuple),
    ),
)


@st.composite
def charges(draw: st.DrawFn) -> Charge:
    currency = draw(st.sampled_from(CURRENCIES))
    amount = draw(money(currency))
    charge_id = draw(words)
    refunds = draw(
        st.none()
        | st.lists(
            st.builds(
                Refund,
                provider=st.just("ledgerpay"),
                id=words,
                charge_id=st.just(charge_id),
                reference=maybe_words,
                amount=money(currency),
                status=st.sampled_from(RefundStatus),
                created_at=moments,
            ),
            max_size=2,
        ).map(tuple)
    )
    fields: dict[str, Any] = {
        "provider": "ledgerpay",
        "id": charge_id,
        "reference": draw(maybe_words),
        "amount": amount,
        "method": draw(maybe_words),
        "status": draw(st.sampled_from(ChargeStatus)),
        "next_action": draw(next_actions),
        "failure": draw(failures),
        "refunded_amount": draw(st.none() | money(currency, amount.amount)),
        "provider_status": draw(maybe_words),
        "created_at": draw(moments),
        "refund_deadline": draw(moments),
        "provider_data": draw(string_maps),
        "metadata": draw(string_maps),
        "refunds": refunds,
        "raw": draw(st.none() | st.dictionaries(words, st.integers() | words, max_size=2)),
    }
    try:
        return Charge(**fields)
    except InvalidRequest:
        # Values the model itself refuses never reach the ledger.
        from hypothesis import reject

        reject()


def _round_trip_equals_as_stored(charge: Charge) -> None:
    stored = dump(charge)
    parsed = Charge.model_validate_json(stored)
    fast_path = as_stored(charge)
    assert fast_path == parsed
    # Equal field by field and in the form a caller would serialise it.
    assert fast_path.model_dump_json() == parsed.model_dump_json()
    assert dump(fast_path) == stored


QR_IN_URL_SAFE_BASE64 = Charge(
    provider="ledgerpay",
    id="ch_qr",
    amount=Money(100, "THB"),
    status=ChargeStatus.REQUIRES_ACTION,
    # Dumped as "-A==": the URL-safe alphabet, which DisplayQrCode once failed to read back.
    next_action=DisplayQrCode(image_png=b"\xf8"),
)


@fast()
@given(charges())
@example(QR_IN_URL_SAFE_BASE64)
def test_a_snapshot_reads_back_as_the_charge_without_raw_and_refunds(charge: Charge) -> None:
    _round_trip_equals_as_stored(charge)


@pytest.mark.slow
@thorough()
@given(charges())
def test_a_snapshot_reads_back_as_the_charge_without_raw_and_refunds_thorough(
    charge: Charge,
) -> None:
    _round_trip_equals_as_stored(charge)


def test_the_property_can_fail() -> None:
    # A field dump() would drop or change: the comparison above must see it.
    charge = Charge(
        provider="ledgerpay", id="ch_1", amount=Money(100, "KRW"), status=ChargeStatus.PENDING
    )
    different = charge.model_copy(update={"provider_status": "other"})
    assert Charge.model_validate_json(dump(different)) != as_stored(charge)


@fast(examples=25)
@given(
    status=st.sampled_from(ChargeStatus),
    refunded=st.integers(0, 5_000),
    metadata=string_maps,
    raw=st.none() | st.just({"k": 1}),
)
def test_a_webhook_answers_the_charge_the_ledger_stores(
    status: ChargeStatus, refunded: int, metadata: dict[str, str], raw: dict[str, Any] | None
) -> None:
    """Through the whole ledger: the answer built from the event equals the stored view."""
    provider = LedgerPay.configure({"secret": SECRET}, name="ledgerpay")
    charge = Charge(
        provider="ledgerpay",
        id="ch_rt",
        reference="order-rt",
        amount=Money(5_000, "KRW"),
        status=status,
        refunded_amount=Money(refunded, "KRW"),
        metadata=metadata,
        raw=raw,
    )
    event = WebhookEvent(provider="ledgerpay", id="evt_rt", charge=charge)
    with Gateway(providers={"ledgerpay": provider}) as gw, Ledger(gw, url="sqlite://") as ledger:
        result = ledger.apply_event(event)
        assert result.charge == ledger.get("order-rt")
        assert result.charge is not None and result.charge.raw is None
