"""Model._from_checked and Money._minor (hot-path constructors) agree with the validating ones."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux import Money
from paymux.errors import InvalidRequest
from paymux.money import MAX_MINOR_UNITS

_CURRENCIES = st.one_of(
    st.sampled_from(["KRW", "krw", "SGD", "BHD", "XXX", "ZZZ", "KR", "KRWW", "ſgd", "K1W", ""]),
    st.text(max_size=4),
    st.integers(),
    st.none(),
)
_AMOUNTS = st.one_of(
    st.integers(min_value=-5, max_value=MAX_MINOR_UNITS + 5),
    st.sampled_from([0, 1, MAX_MINOR_UNITS, MAX_MINOR_UNITS + 1, -1, True, False]),
)


def _outcome(build: Any, amount: Any, currency: Any) -> tuple[str, Any]:
    try:
        money = build(amount, currency)
    except InvalidRequest as exc:
        return "refused", (exc.reason, exc.field)
    return "built", (money, money.model_dump(), repr(money))


@given(_AMOUNTS, _CURRENCIES)
def test_minor_builds_or_refuses_exactly_as_the_constructor(amount: Any, currency: Any) -> None:
    assert _outcome(Money._minor, amount, currency) == _outcome(Money, amount, currency)


def test_minor_money_behaves_as_money() -> None:
    fast = Money._minor(1500, "sgd")
    assert fast == Money(1500, "SGD")
    assert fast + Money(500, "SGD") == Money(2000, "SGD")
    assert hash(fast) == hash(Money(1500, "SGD"))
    with pytest.raises(Exception):  # frozen like any Money
        fast.amount = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "values",
    [{"amount": 1}, {"amount": 1, "currency": "KRW", "extra": 2}, {}],
    ids=["missing", "unknown", "empty"],
)
def test_from_checked_needs_exactly_every_field(values: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        Money._from_checked(values)
