"""How the fault campaign steers the sandbox: the knobs of both emulators, the merchant's settings,
charges made outside the Ledger, and what is read back at the end."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

from campaign_books import BookCharge, read_books

from paymux import ChargeRequest, Customer, Gateway, Money, ReturnUrls
from paymux.errors import PaymuxError, ProviderError
from paymux.sandbox import Sandbox

ATTEMPTS = 12


def fault_counts(sandbox: Sandbox) -> Counter[str]:
    """Every request fault the sandbox really applied, by kind."""
    return Counter(fault for _, fault in sandbox.faults.applied)


def write_paths(sandbox: Sandbox) -> list[str]:
    paths: list[str] = []
    for emulator in sandbox.emulators.values():
        write_paths = getattr(emulator, "write_paths", None)
        if callable(write_paths):
            paths += write_paths()
    return paths


GATE = "/ecommpay/v2/payment"
# Rare writes get a lost answer for certain (the rates cover the frequent ones): every write
# endpoint must show one in every run.
ONE_SHOTS = [
    (f"{GATE}/clarification", "drop"),
    (f"{GATE}/clarification", "drop"),
    (f"{GATE}/wallet/kakaopay/sale", "late"),
    (f"{GATE}/wallet/payco/sale", "drop"),
    (f"{GATE}/card-partner/sale", "drop"),
    (f"{GATE}/wallet/kakaopay/refund", "drop"),
]


def turn_knobs(sandbox: Sandbox, seed: int, search_lag: float) -> None:
    """Both providers: late and declined refunds, answers lost after acting on every write.
    Omise: its search lags behind new charges and pages by 30."""
    ecommpay: Any = sandbox.emulators["ecommpay"]
    ecommpay.configure(seed=seed, refund_decline=0.12, refund_delay=0.3)
    omise: Any = sandbox.emulators["omise"]
    omise.tune(
        seed=seed,
        search_lag=search_lag,
        per_page=30,
        refund_delay=0.3,
        refund_decline_rate=0.12,
        answer_lost_rate=0.12,
    )
    # ECommPay's writes lose answers through the sandbox's fault plan (processed, then cut).
    sandbox.faults.update({"drop_paths": write_paths(sandbox)})


def arm_one_shots(sandbox: Sandbox) -> None:
    """One lost answer for certain on each rare write endpoint, and one declined Omise refund."""
    omise: Any = sandbox.emulators["omise"]
    omise.tune(lose_answers={"sources": 2, "charges": 1, "refunds": 1}, decline_refunds=1)
    sandbox.faults.update({"once": ONE_SHOTS})


def merchant_settings(sandbox: Sandbox, search_lag: float) -> dict[str, dict[str, Any]]:
    """The emulators' settings, with Omise's search lag declared as the merchant would (a little
    more than the lag seen): a look-up miss is conclusive only once the lag is over."""
    settings = sandbox.provider_settings()
    settings["omise"] = {**settings["omise"], "search_lag": timedelta(seconds=search_lag + 1)}
    return settings


def pause_lost_answers(sandbox: Sandbox) -> tuple[float, float, float]:
    omise: Any = sandbox.emulators["omise"]
    rates = (omise.knobs.answer_lost_rate, sandbox.faults.drop, sandbox.faults.late)
    omise.tune(answer_lost_rate=0.0)
    sandbox.faults.update({"drop": 0.0, "late": 0.0})
    return rates


def resume_lost_answers(sandbox: Sandbox, rates: tuple[float, float, float]) -> None:
    omise: Any = sandbox.emulators["omise"]
    omise.tune(answer_lost_rate=rates[0])
    sandbox.faults.update({"drop": rates[1], "late": rates[2]})


def make_decoys(sandbox: Sandbox, references: list[str], run: str) -> list[str]:
    """31 newer Omise charges whose description names each reference (a gift card bought "for
    order X"): a search for X then spans two pages, X on the second. Made by another checkout
    instance, so without the Ledger; the emulator loses none of these answers."""
    omise: Any = sandbox.emulators["omise"]
    rate = omise.knobs.answer_lost_rate
    omise.tune(answer_lost_rate=0.0)
    made: list[str] = []
    with Gateway(providers=sandbox.provider_settings()) as other:
        for reference in references:
            for n in range(31):
                request = ChargeRequest(
                    reference=f"decoy-{run}-{len(made):03d}",
                    amount=Money(100 + n, "SGD"),
                    method="kakaopay",
                    country="SG",
                    customer=Customer(id=f"decoy-{n}", ip_address="192.0.2.52"),
                    return_urls=ReturnUrls(success="https://shop.example/gift"),
                    description=f"Gift card for order {reference}",
                )
                for _ in range(ATTEMPTS):
                    try:
                        other.create_charge(request, provider="omise")
                        break
                    except ProviderError:
                        continue  # the fault plan's 5xx: refused before anything was made
                made.append(request.reference)
    omise.tune(answer_lost_rate=rate)
    return made


def look_up(gw: Gateway, books: dict[str, list[BookCharge]]) -> tuple[int, list[str]]:
    """Every Omise charge, looked up by its reference, is the one the books hold: how many were
    looked up, and what went wrong."""
    looked, wrong = 0, []
    for reference, charges in books.items():
        if len(charges) != 1 or charges[0].provider != "omise":
            continue
        looked += 1
        try:
            found = gw.retrieve_charge("omise", reference=reference)
        except PaymuxError as error:
            wrong.append(f"{reference}: {type(error).__name__}: {error}")
            continue
        if found.id != charges[0].id:
            wrong.append(f"{reference}: found {found.id}, the books hold {charges[0].id}")
    return looked, wrong


def settle_late_refunds(sandbox: Sandbox) -> None:
    """Late refunds complete in the end: wait for the timers, then release any held ones."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        books = read_books(sandbox)
        if not any(r.status == "pending" for cs in books.values() for c in cs for r in c.refunds):
            return
        for emulator in sandbox.emulators.values():
            settle = getattr(emulator, "settle_refunds", None)
            if callable(settle):
                settle()
        time.sleep(0.1)
