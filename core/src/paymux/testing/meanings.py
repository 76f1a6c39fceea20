"""Which contract-kit test checks each row of the meanings table (``docs/meanings.md``).

The table promises one meaning per word for every provider; this map is how that promise is
kept: every row id names the kit test that checks it on every plugin that runs the kit
(:class:`~paymux.testing.contract.ProviderContract` without a network,
:class:`~paymux.testing.emulator_contract.EmulatorContract` against the plugin's emulator).
paymux's own tests refuse a row without a check here, and a check without a row.
"""

from __future__ import annotations

MEANINGS: dict[str, str] = {
    "event-type": "EmulatorContract.test_event_types_name_what_the_event_reports",
    "event-id": (
        "EmulatorContract"
        ".test_event_ids_are_stable_across_redeliveries_and_distinct_for_distinct_content"
    ),
    "webhook-signature": (
        "EmulatorContract.test_a_well_formed_webhook_with_a_bad_signature_is_refused"
    ),
    "unknown-status": "ProviderContract.test_unknown_status_never_maps_to_succeeded",
    "refunded-amount": "EmulatorContract.test_refunded_amount_is_cumulative",
    "remaining-amount": "EmulatorContract.test_remaining_amount_is_what_is_left",
    "country": "ProviderContract.test_country_is_the_market_the_capability_declares",
    "bad-input": "ProviderContract.test_out_of_limit_amounts_are_refused_before_the_network",
    "lost-create-answer": "EmulatorContract.test_a_lost_create_answer_is_the_charge_or_may_exist",
    "retry-meets-own-attempt": (
        "EmulatorContract.test_a_retry_that_meets_its_own_attempt_returns_that_charge"
    ),
    "reference-reused": (
        "EmulatorContract.test_a_reference_reused_for_another_request_is_a_duplicate"
    ),
    "unknown-reference": "EmulatorContract.test_an_unknown_reference_is_not_found",
    "rate-limit": "ProviderContract.test_a_rate_limit_is_rate_limited",
    "unsafe-write": (
        "ProviderContract.test_writes_without_an_idempotency_guarantee_are_not_retry_safe"
    ),
    "checkout": "EmulatorContract.test_plugin_and_emulator_complete_a_checkout",
}
"""Row id -> ``<kit class>.<test method>``."""

__all__ = ["MEANINGS"]
