"""A hypothesis strategy for "whatever a caller might pass": the public methods must answer any
of it with a result or a typed paymux error, never a raw exception."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

# The extreme offsets: an aware datetime near either end of the range overflows when moved to UTC.
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])


def any_argument(*edge_cases: Any) -> SearchStrategy[Any]:
    """None, bools, ints, text, bytes, naive and aware datetimes, small lists and dicts, and the
    caller's own ``edge_cases``."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=30),
        st.binary(max_size=10),
        st.datetimes(),
        st.datetimes(timezones=_ZONES),
        st.sampled_from(edge_cases),
        st.lists(st.one_of(st.text(max_size=20), st.integers()), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )
