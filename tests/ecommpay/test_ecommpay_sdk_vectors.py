"""paymux's signer against ECommPay's official SDKs: their 36 test vectors, and the Python SDK
(``ecommpay-sdk`` 1.0.6, module ``payment_page_sdk``) as a live oracle.

The SDK is a differential oracle with two known bugs (research notes, section 1.3): it writes
``null`` as ``None`` (the platform, GitHub master and the other SDKs write an empty value), and it
neither doubles ``:`` in keys nor orders list indexes past 9 naturally. Generated payloads stay
clear of those three, where the SDK is known to be wrong, and nowhere else.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from ecommpay_support import load
from hypothesis import given, settings
from hypothesis import strategies as st
from payment_page_sdk.callback import Callback
from payment_page_sdk.process_exception import ProcessException
from payment_page_sdk.signature_handler import SignatureHandler

from paymux_ecommpay import sign, string_to_sign, verify
from paymux_ecommpay.requests_payment_page import payment_page_link

VECTORS = load("ecommpay_sdk_vectors.json")["vectors"]


def _by_kind(*kinds: str) -> list[dict[str, Any]]:
    return [v for v in VECTORS if v["kind"] in kinds]


def test_all_36_official_vectors_are_run() -> None:
    kinds = ("sign", "string", "callback_ok", "callback_bad", "url_exact", "url_query", "url_sig")
    assert len(VECTORS) == 36
    assert sum(len(_by_kind(k)) for k in kinds) == 36


@pytest.mark.parametrize("vector", _by_kind("sign", "url_sig"), ids=lambda v: v["name"])
def test_official_signature(vector: dict[str, Any]) -> None:
    assert sign(vector["data"], vector["secret"]) == vector["expected"]


@pytest.mark.parametrize("vector", _by_kind("string"), ids=lambda v: v["name"])
def test_official_string_to_sign(vector: dict[str, Any]) -> None:
    assert string_to_sign(vector["data"]) == vector["expected"]


def _callback_data(vector: dict[str, Any]) -> Any:
    # The PHP fixtures are raw callback bodies: read them as the endpoint would.
    return json.loads(vector["raw"]) if "raw" in vector else vector["data"]


@pytest.mark.parametrize("vector", _by_kind("callback_ok"), ids=lambda v: v["name"])
def test_official_callback_is_accepted(vector: dict[str, Any]) -> None:
    data = _callback_data(vector)
    assert verify(data, vector["secret"])
    assert not verify(data, vector["secret"] + "-other")


@pytest.mark.parametrize("vector", _by_kind("callback_bad"), ids=lambda v: v["name"])
def test_official_callback_is_refused(vector: dict[str, Any]) -> None:
    assert not verify(_callback_data(vector), vector["secret"])


@pytest.mark.parametrize("vector", _by_kind("url_exact"), ids=lambda v: v["name"])
def test_official_payment_page_url_exactly(vector: dict[str, Any]) -> None:
    assert payment_page_link(vector["base"], vector["data"], vector["secret"]) == vector["expected"]


@pytest.mark.parametrize("vector", _by_kind("url_query"), ids=lambda v: v["name"])
def test_official_payment_page_url_parameters(vector: dict[str, Any]) -> None:
    # The SDKs differ in parameter order and in spelling a space (+ or %20): compare the values.
    expected = dict(parse_qsl(urlsplit(vector["expected"]).query))
    ours = dict(parse_qsl(urlsplit(payment_page_link("", vector["data"], vector["secret"])).query))
    assert ours == expected


# -- the Python SDK as a live oracle ---------------------------------------------------------------

# Keys as ECommPay writes them: letters and '_' (so no ':', which the SDK does not double, and no
# digits in keys, where the SDK's bytewise order differs from the platform's natural one), and not
# 'frame_mode' or 'signature' (both are left out of what is signed). Lists stay under 11 items.
_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ_", min_size=1, max_size=8).filter(
    lambda k: k not in ("signature", "frame_mode")
)
_scalars = st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=12)  # no null
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=10) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=25,
)
_payloads = st.dictionaries(_keys, _json, min_size=1, max_size=5)
_secrets = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(payload=_payloads, secret=_secrets)
def test_paymux_signs_what_the_official_sdk_signs(payload: dict[str, Any], secret: str) -> None:
    assert sign(payload, secret) == SignatureHandler(secret).sign(payload)


def _sdk_accepts(body: dict[str, Any], secret: str) -> bool:
    try:
        Callback(json.dumps(body), SignatureHandler(secret))
    except (ProcessException, TypeError):
        # TypeError: the SDK cannot even report a signature that is not text (a refusal too).
        return False
    return True


@st.composite
def _mutations(draw: st.DrawFn, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with one value replaced by any other scalar, or one key renamed or dropped."""
    body = json.loads(json.dumps(payload))
    node: Any = body
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return body
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        how = draw(st.sampled_from(["value", "rename", "drop"]))
        if how == "value" or isinstance(node, list):
            node[key] = draw(_scalars)
        elif how == "rename":
            node[draw(_keys)] = node.pop(key)
        else:
            del node[key]
        return body


@settings(max_examples=200, deadline=None)
@given(payload=_payloads, secret=_secrets, data=st.data())
def test_paymux_verifies_exactly_what_the_official_sdk_verifies(
    payload: dict[str, Any], secret: str, data: st.DataObject
) -> None:
    # Signed by the SDK, changed anywhere (not only appended to): paymux's verdict is the SDK's.
    signed = {**payload, "signature": SignatureHandler(secret).sign(payload)}
    mutated = data.draw(_mutations(signed))
    if "signature" not in mutated:
        mutated["signature"] = signed["signature"]
    assert verify(mutated, secret) is _sdk_accepts(mutated, secret)


@settings(max_examples=100, deadline=None)
@given(payload=_payloads, secret=_secrets, other=_secrets)
def test_a_signature_made_with_another_key_is_refused_by_both(
    payload: dict[str, Any], secret: str, other: str
) -> None:
    signed = {**payload, "signature": SignatureHandler(other).sign(payload)}
    assert verify(signed, secret) is _sdk_accepts(signed, secret) is (other == secret)


def test_the_sdk_bugs_the_generators_avoid_are_real() -> None:
    # If a new SDK release fixed these, the generators above could be widened.
    assert SignatureHandler("k").sign({"a": None}) != sign({"a": None}, "k")
    assert SignatureHandler("k").sign({"a": {"b:c": 1}}) != sign({"a": {"b:c": 1}}, "k")
    items = {"items": [str(i) for i in range(12)]}
    assert SignatureHandler("k").sign(items) != sign(items, "k")
    assert verify({**items, "signature": SignatureHandler("k").sign(items)}, "k")
