"""The state machine on its own: the transition table, and the join properties that make
duplicated and out-of-order delivery converge."""

from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux import ChargeStatus
from paymux.ledger.state_machine import TRANSITIONS, State, Verdict, apply

S = ChargeStatus
AMOUNT = 10_000


def st_(
    status: ChargeStatus, refunded: int = 0, amount: int = AMOUNT, currency: str = "KRW"
) -> State:
    return State(status, amount, currency, refunded)


PENDING = st_(S.PENDING)


def fold(events: list[State], start: State = PENDING) -> State:
    return reduce(lambda state, event: apply(state, event).state, events, start)


@st.composite
def flows(draw: st.DrawFn) -> tuple[int, list[State]]:
    """The reports one provider sends for one charge, in the order things happened."""
    amount = draw(st.integers(1, 100_000))
    events = [st_(S.PENDING, amount=amount)]
    if draw(st.booleans()):
        events.append(st_(S.REQUIRES_ACTION, amount=amount))
    end = draw(st.sampled_from([S.SUCCEEDED, S.FAILED, S.EXPIRED, S.CANCELED]))
    events.append(st_(end, amount=amount))
    if end is S.SUCCEEDED:
        refunded = 0
        for part in draw(st.lists(st.integers(1, amount), max_size=4)):
            if refunded + part > amount:
                break
            refunded += part
            status = S.REFUNDED if refunded == amount else S.PARTIALLY_REFUNDED
            events.append(st_(status, refunded, amount=amount))
    return amount, events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, list[State], list[State]]:
    """A flow, and a delivery of it: every event at least once, some twice or more, any order."""
    amount, events = draw(flows())
    extra = draw(st.lists(st.sampled_from(events), max_size=len(events) * 2))
    delivered = draw(st.permutations(events + extra))
    return amount, events, delivered


def test_the_table_lets_open_states_move_forward_only() -> None:
    assert S.REQUIRES_ACTION in TRANSITIONS[S.PENDING]
    assert S.PENDING not in TRANSITIONS[S.REQUIRES_ACTION]
    for final in (S.FAILED, S.EXPIRED, S.CANCELED, S.REFUNDED):
        assert TRANSITIONS[final] == frozenset()


@pytest.mark.parametrize(
    ("current", "incoming", "expected", "verdict"),
    [
        (st_(S.PENDING), st_(S.REQUIRES_ACTION), st_(S.REQUIRES_ACTION), Verdict.APPLIED),
        (st_(S.REQUIRES_ACTION), st_(S.PENDING), st_(S.REQUIRES_ACTION), Verdict.STALE),
        (st_(S.SUCCEEDED), st_(S.REQUIRES_ACTION), st_(S.SUCCEEDED), Verdict.STALE),
        (st_(S.FAILED), st_(S.SUCCEEDED), st_(S.FAILED), Verdict.CONFLICT),
        (st_(S.SUCCEEDED), st_(S.EXPIRED), st_(S.SUCCEEDED), Verdict.CONFLICT),
        (
            st_(S.SUCCEEDED),
            st_(S.PARTIALLY_REFUNDED, 300),
            st_(S.PARTIALLY_REFUNDED, 300),
            Verdict.APPLIED,
        ),
        (
            st_(S.PARTIALLY_REFUNDED, 500),
            st_(S.PARTIALLY_REFUNDED, 300),
            st_(S.PARTIALLY_REFUNDED, 500),
            Verdict.STALE,
        ),
        (
            st_(S.PARTIALLY_REFUNDED, 500),
            st_(S.SUCCEEDED),
            st_(S.PARTIALLY_REFUNDED, 500),
            Verdict.STALE,
        ),
        # "refunded" means all of it, even when the provider did not say how much.
        (st_(S.SUCCEEDED), st_(S.REFUNDED), st_(S.REFUNDED, AMOUNT), Verdict.APPLIED),
        (
            st_(S.PENDING),
            st_(S.PARTIALLY_REFUNDED, AMOUNT),
            st_(S.REFUNDED, AMOUNT),
            Verdict.APPLIED,
        ),
        (
            st_(S.SUCCEEDED),
            st_(S.PARTIALLY_REFUNDED, AMOUNT + 1),
            st_(S.SUCCEEDED),
            Verdict.OVER_REFUND,
        ),
        (st_(S.PENDING), st_(S.SUCCEEDED, amount=AMOUNT - 1), st_(S.PENDING), Verdict.MISMATCH),
        (st_(S.PENDING), st_(S.SUCCEEDED, currency="USD"), st_(S.PENDING), Verdict.MISMATCH),
        (st_(S.SUCCEEDED), st_(S.SUCCEEDED), st_(S.SUCCEEDED), Verdict.SAME),
    ],
)
def test_apply(current: State, incoming: State, expected: State, verdict: Verdict) -> None:
    outcome = apply(current, incoming)
    assert (outcome.state, outcome.verdict) == (expected, verdict)
    assert outcome.verdict.flagged == (
        verdict in {Verdict.CONFLICT, Verdict.MISMATCH, Verdict.OVER_REFUND}
    )


@settings(max_examples=400)
@given(deliveries())
def test_any_delivery_with_duplicates_ends_in_the_in_order_state(
    case: tuple[int, list[State], list[State]],
) -> None:
    amount, events, delivered = case
    in_order = fold(events, st_(S.PENDING, amount=amount))
    assert in_order.status is events[-1].status or in_order.refunded == amount
    assert in_order.refunded == events[-1].refunded or events[-1].status is S.REFUNDED
    assert fold(delivered, st_(S.PENDING, amount=amount)) == in_order


any_state = st.builds(
    State,
    status=st.sampled_from(list(S)),
    amount=st.just(AMOUNT),
    currency=st.sampled_from(["KRW", "KRW", "KRW", "USD"]),
    refunded=st.integers(0, AMOUNT * 2),
)


@settings(max_examples=400)
@given(st.lists(any_state, max_size=30))
def test_final_states_never_regress_and_refunds_never_exceed_the_charge(
    events: list[State],
) -> None:
    state = PENDING
    for event in events:
        after = apply(state, event).state
        assert after.refunded <= AMOUNT
        assert after.currency == "KRW"
        if state.status.is_final:
            assert after.status.is_final
            assert after.status.is_paid == state.status.is_paid
            assert after.refunded >= state.refunded
            if not state.status.is_paid:
                assert after == state
        state = after
