import re
from decimal import Context, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux import Money
from paymux.errors import InvalidRequest
from paymux.money import MAX_MINOR_UNITS, currency_exponent

CURRENCIES = ["KRW", "USD", "SGD", "THB", "KES", "JPY", "BHD", "CLF", "ISK", "SEK"]
amounts = st.integers(min_value=0, max_value=MAX_MINOR_UNITS)


def test_documented_examples() -> None:
    assert Money(1000, "KRW").amount == 1000
    assert Money.of("15.00", "SGD").amount == 1500
    assert Money.of("15", "SGD") == Money(1500, "SGD")
    assert Money.of(Decimal("0.005"), "BHD") == Money(5, "BHD")
    assert str(Money(1500, "SGD")) == "15.00 SGD"
    assert str(Money(1000000, "KRW")) == "1,000,000 KRW"


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("KRW", 0), ("USD", 2), ("KES", 2), ("SGD", 2), ("THB", 2), ("BHD", 3), ("CLF", 4)],
)
def test_exponents_follow_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert Money(1, code).exponent == exponent


@pytest.mark.parametrize(
    "make",
    [
        lambda: Money.of("10.5", "KRW"),  # won has no minor unit
        lambda: Money(1.5, "USD"),
        lambda: Money(10.0, "USD"),  # a float, even a whole one
        lambda: Money(True, "USD"),
        lambda: Money("100", "USD"),
        lambda: Money(-1, "USD"),
        lambda: Money(1, "ZZZ"),
        lambda: Money(1, "XAU"),  # no minor unit at all
        lambda: Money(MAX_MINOR_UNITS + 1, "USD"),
        lambda: Money.of(1.5, "USD"),  # type: ignore[arg-type]
        lambda: Money.of("abc", "USD"),
        lambda: Money.of("NaN", "USD"),
        lambda: Money.of("1.001", "USD"),
    ],
)
def test_bad_amounts_raise_invalid_request(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequest):
        make()


def test_error_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as info:
        Money(1.5, "USD")
    assert info.value.field == "amount"
    with pytest.raises(InvalidRequest) as info:
        Money(1, "ZZZ")
    assert info.value.field == "currency"


def test_lower_case_code_is_normalised_not_guessed() -> None:
    assert Money(5, "krw").currency == "KRW"


def test_mixed_currencies_refuse_to_combine() -> None:
    with pytest.raises(InvalidRequest):
        Money(1, "USD") + Money(1, "SGD")
    with pytest.raises(InvalidRequest):
        _ = Money(1, "USD") < Money(1, "SGD")
    assert Money(1, "USD") != Money(1, "SGD")


def test_subtraction_never_goes_negative() -> None:
    with pytest.raises(InvalidRequest):
        Money(1, "USD") - Money(2, "USD")


@given(amount=amounts, currency=st.sampled_from(CURRENCIES))
def test_json_round_trip(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.model_validate_json(money.model_dump_json()) == money


@given(amount=amounts, currency=st.sampled_from(CURRENCIES))
def test_decimal_round_trip_is_exact(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.of(money.to_decimal(), currency) == money
    assert Money.of(str(money.to_decimal()), currency) == money


@given(a=amounts, b=amounts, currency=st.sampled_from(CURRENCIES))
def test_arithmetic_matches_integers(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    if a + b <= MAX_MINOR_UNITS:
        assert (x + y).amount == a + b
    assert (x < y) == (a < b)
    assert (x >= y) == (a >= b)
    if a >= b:
        assert (x - y).amount == a - b


@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=0, max_value=10**9)
)
def test_of_refuses_excess_precision_for_won(value: Decimal) -> None:
    if value == value.to_integral_value():
        assert Money.of(value, "KRW").amount == int(value)
    else:
        with pytest.raises(InvalidRequest):
            Money.of(value, "KRW")


@given(st.floats(allow_nan=True))
def test_floats_never_become_money(value: float) -> None:
    with pytest.raises(InvalidRequest):
        Money(value, "USD")


# -- Money.of reads only plain ASCII decimals (issue 12, item 4) -------------------------------------

PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _of(value: Any, currency: str) -> tuple[Money | None, str | None]:
    """Money.of's answer, or the field its InvalidRequest named; anything else propagates."""
    try:
        return Money.of(value, currency), None
    except InvalidRequest as error:
        return None, error.field


@given(amount=amounts, currency=st.sampled_from(CURRENCIES))
def test_plain_text_round_trip_is_exact(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.of(format(money.to_decimal(), "f"), currency) == money
    assert Money.of(format(money.to_decimal(), "f"), currency.lower()) == money


@given(text=st.text(max_size=60), currency=st.sampled_from(CURRENCIES))
def test_any_text_is_money_or_a_typed_error_and_only_plain_decimals_are_money(
    text: str, currency: str
) -> None:
    money, refused = _of(text, currency)
    if money is None:
        assert refused == "amount"
    else:
        assert PLAIN.fullmatch(text), text
        assert money.to_decimal() == Decimal(text)


@given(
    text=st.from_regex(r"\A[0-9eE+\-_.,\s]{1,30}\Z"),
    currency=st.sampled_from(CURRENCIES),
)
def test_near_numbers_are_refused_unless_plain(text: str, currency: str) -> None:
    """Exponents, signs, separators and spaces: the shapes Decimal() would have read."""
    if PLAIN.fullmatch(text):
        return
    with pytest.raises(InvalidRequest):
        Money.of(text, currency)


@given(
    digits=st.text(
        st.characters(categories=["Nd"]).filter(lambda c: not c.isascii()), min_size=1, max_size=6
    )
)
def test_digits_of_other_scripts_are_refused(digits: str) -> None:
    with pytest.raises(InvalidRequest):
        Money.of(digits, "KRW")


@given(
    value=st.decimals(allow_nan=True, allow_infinity=True),
    currency=st.sampled_from(CURRENCIES),
)
def test_any_decimal_is_exact_money_or_a_typed_error(value: Decimal, currency: str) -> None:
    money, refused = _of(value, currency)
    if money is None:
        assert refused == "amount"
    else:
        assert money.to_decimal() == value


@given(exponent=st.integers(min_value=-(10**9), max_value=10**9), coefficient=st.integers(1, 99))
def test_extreme_exponents_never_overflow_or_round_to_zero(exponent: int, coefficient: int) -> None:
    value = Decimal(coefficient).scaleb(exponent, context=Context(Emax=10**10, Emin=-(10**10)))
    try:
        money = Money.of(value, "KRW")
    except InvalidRequest:
        assert value != value.to_integral_value() or value > MAX_MINOR_UNITS
    else:
        assert money.amount == value and money.amount > 0


# Non-ASCII letters that str.upper() turns into an ASCII one (the long s U+017F and the dotless i
# U+0131).
LOOKALIKES = {
    c.upper(): c
    for c in map(chr, range(0x80, 0x3000))
    if len(c.upper()) == 1 and c.upper().isascii() and c.upper().isalpha()
}


@given(currency=st.sampled_from(CURRENCIES), data=st.data())
def test_currency_lookalikes_are_refused(currency: str, data: st.DataObject) -> None:
    positions = [i for i, letter in enumerate(currency) if letter in LOOKALIKES]
    if not positions:
        return
    i = data.draw(st.sampled_from(positions))
    code = currency[:i] + LOOKALIKES[currency[i]] + currency[i + 1 :]
    assert code.upper() == currency  # what the old code accepted
    with pytest.raises(InvalidRequest) as info:
        Money(1, code.lower())
    assert info.value.field == "currency"
