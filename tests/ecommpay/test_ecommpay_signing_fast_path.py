"""The signing fast path for bodies paymux builds (objects of objects of text and integers)
gives exactly the leaves of the general walk, and declines everything else."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from paymux_ecommpay import signing

_keys = st.text(min_size=1, max_size=8)
_scalars = st.one_of(st.text(max_size=12), st.integers(-(10**12), 10**12))
_values = st.one_of(_scalars, st.booleans(), st.none(), st.lists(st.integers(), max_size=2))


def _general_walk(params: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    signing._collect(params, "", 0, out)
    return out


@given(st.dictionaries(_keys, st.dictionaries(_keys, _scalars, max_size=5), max_size=5))
def test_bodies_of_text_and_integers_take_the_fast_path_with_the_same_leaves(
    body: dict[str, dict[str, Any]],
) -> None:
    flat = signing._flat_leaves(body)
    if flat is None:
        # Declined only for what the general walk treats specially.
        assert any(
            ":" in k or k in signing._IGNORED_KEYS
            for outer, inner in body.items()
            for k in (outer, *inner)
        )
    else:
        assert flat == _general_walk(body)
    assert signing.string_to_sign(body) == signing._join(
        signing._ordered(_general_walk(body), True)
    )


@given(st.dictionaries(_keys, st.dictionaries(_keys, _values, max_size=4), max_size=4))
def test_anything_else_is_declined_or_identical(body: dict[str, dict[str, Any]]) -> None:
    flat = signing._flat_leaves(body)
    assert flat is None or flat == _general_walk(body)
