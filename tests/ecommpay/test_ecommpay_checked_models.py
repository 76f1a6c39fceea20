"""The models a callback's translation builds without pydantic's validation (a hot path) are the
ones the validating constructors build from the same values: nothing unchecked gets through."""

from __future__ import annotations

from typing import Any

import pytest
from ecommpay_support import load, make_provider, signed_callback

from paymux import Charge, WebhookEvent
from paymux.testing import no_network, run_flow

CASES = [c for c in load("seed_callbacks.json")["cases"] if not c["expect"].get("parse_error")]


def _revalidated(model: Any) -> Any:
    cls = type(model)
    return cls(**{name: getattr(model, name) for name in cls.model_fields})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_seed_callback_models_equal_their_validated_twins(case: dict[str, Any]) -> None:
    body = case["body"]
    provider = make_provider(project_id=int(body["project_id"]), confirm_callbacks=False)
    raw = signed_callback(body)
    event = run_flow(provider.parse_webhook(raw, {"content-type": "application/json"}), no_network)
    twin = _revalidated(event)
    assert event == twin
    assert event.model_dump() == twin.model_dump()
    assert repr(event) == repr(twin)
    if event.charge is not None:
        charge_twin = _revalidated(event.charge)
        assert isinstance(charge_twin, Charge)
        assert event.charge == charge_twin
        assert event.charge.model_dump() == charge_twin.model_dump()
        assert event.charge.refundable_amount == charge_twin.refundable_amount
    assert isinstance(twin, WebhookEvent)
