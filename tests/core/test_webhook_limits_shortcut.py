"""load_json's byte-count shortcut never lets through a document the full walk would refuse."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from paymux.webhook_limits import WebhookLimits, WebhookTooLarge, check_structure, load_json

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=4)
    ),
    max_leaves=30,
)
# As many values per byte as JSON allows ([1,2,...] and {"":[0]}): where a loose bound would show.
_DENSE = st.lists(st.integers(0, 9), max_size=80) | st.lists(
    st.lists(st.integers(0, 9), max_size=3), max_size=30
)


def _refused(check: Any) -> bool:
    try:
        check()
    except WebhookTooLarge:
        return True
    return False


@given(
    _JSON | _DENSE,
    st.integers(1, 6),
    st.integers(1, 60),
    st.sampled_from([(",", ":"), (", ", ": ")]),
)
def test_load_json_refuses_exactly_what_the_walk_refuses(
    document: Any, depth: int, leaves: int, separators: tuple[str, str]
) -> None:
    limits = WebhookLimits(max_bytes=10_000, max_depth=depth, max_leaves=leaves)
    body = json.dumps(document, separators=separators).encode()
    walk = _refused(lambda: check_structure(document, limits))
    assert _refused(lambda: load_json(body, limits)) == walk
