"""``paymux demo``: six real checkouts on the embedded sandbox, end to end."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from ..gateway import Gateway
from ..models import ChargeRequest, Customer, ReturnUrls
from ..money import Money
from ..next_action import DisplayQrCode
from ..status import ChargeStatus
from .checkout import CheckoutResult, Shopper
from .server import Sandbox


@dataclass(frozen=True)
class Scenario:
    title: str
    request: ChargeRequest
    refunds: tuple[Money | None, ...]
    expected: ChargeStatus
    expected_refunded: Money


def scenarios(run: str) -> list[Scenario]:
    shop = "https://shop.example/orders"

    def request(
        name: str, amount: Money, method: str, country: str, customer: Customer
    ) -> ChargeRequest:
        reference = f"demo-{name}-{run}"
        return ChargeRequest(
            reference=reference,
            amount=amount,
            method=method,
            country=country,
            customer=customer,
            return_urls=ReturnUrls(
                success=f"{shop}/{reference}/paid",
                decline=f"{shop}/{reference}/failed",
                back=f"{shop}/{reference}/cart",
            ),
            description=f"paymux demo: {name}",
        )

    korean = Customer(id="customer-kr-1", ip_address="192.0.2.10", email="minji@example.com")
    kenyan = Customer(
        id="customer-ke-1", ip_address="192.0.2.20", email="amani@example.com"
    )  # no phone
    singaporean = Customer(id="customer-sg-1", ip_address="192.0.2.30", email="wei@example.com")
    thai = Customer(id="customer-th-1", ip_address="192.0.2.40", email="somchai@example.com")

    def checkout(
        title: str, amount: Money, customer: Customer, refund: Money | None = None
    ) -> Scenario:
        """``title`` ("<Method> <country>") paid with ``amount``, then refunded in part by
        ``refund``, or in full without one."""
        method, country = title.split()
        name = f"{method}-{country}".lower()
        return Scenario(
            title,
            request(name, amount, method.lower(), country, customer),
            (refund,),
            ChargeStatus.REFUNDED if refund is None else ChargeStatus.PARTIALLY_REFUNDED,
            amount if refund is None else refund,
        )

    return [
        checkout("KakaoPay KR", Money(10_000, "KRW"), korean, Money(3_000, "KRW")),
        checkout("Payco KR", Money(25_000, "KRW"), korean),
        checkout("Card KE", Money.of("2500.00", "KES"), kenyan),
        checkout("KakaoPay SG", Money.of("15.00", "SGD"), singaporean, Money.of("5.00", "SGD")),
        # The sandbox's second Omise account is Thai: the router picks it by country alone.
        checkout("PromptPay TH", Money.of("350.00", "THB"), thai),
        checkout("PayNow SG", Money.of("42.00", "SGD"), singaporean, Money.of("12.00", "SGD")),
    ]


def run_demo(port: int = 0) -> int:
    from rich.console import Console
    from rich.table import Table

    # Wide enough for the result table even when the output goes to a log rather than a terminal.
    console = Console(highlight=False, width=max(112, Console().width))
    started = time.monotonic()
    with Sandbox(port=port) as sandbox:
        missing = {"ecommpay", "omise"} - set(sandbox.emulators)
        if missing:
            console.print(
                f"[red]The demo needs the {', '.join(sorted(missing))} plugin(s) and emulator(s).[/red]"
            )
            return 1
        console.print(
            f"Sandbox on {sandbox.base_url} with emulators: {', '.join(sandbox.emulators)}\n"
        )
        current: list[Scenario] = []

        shown: set[str] = set()

        def show_qr(qr: DisplayQrCode) -> None:
            title = current[-1].title if current else ""
            if title in shown:
                return
            shown.add(title)
            method = current[-1].request.method if current else "their app"
            if qr.data:
                console.print(f"The customer scans this QR code with {method}:")
                console.print(qr.terminal())
            elif qr.image_png:
                # Omise sends the image, not its text: the checkout shows the PNG as it is.
                console.print(
                    f"The checkout shows the provider's QR image ({len(qr.image_png)} bytes of"
                    f" PNG, {qr.image_url}); the customer scans it with a banking app ({method})."
                )
            else:
                console.print(f"The checkout shows the QR image at {qr.image_url}.")

        results: list[tuple[Scenario, CheckoutResult | None, str]] = []
        with Gateway(providers=sandbox.provider_settings()) as gw:
            shopper = Shopper(gw, sandbox.hub, on_qr=show_qr)
            try:
                for scenario in scenarios(uuid.uuid4().hex[:8]):
                    current.append(scenario)
                    console.print(f"[bold]{scenario.title}[/bold] ...")
                    try:
                        result = shopper.checkout(scenario.request, refunds=scenario.refunds)
                        error = ""
                    except Exception as exc:  # the table reports every flow's outcome
                        result, error = None, f"{type(exc).__name__}: {exc}"
                    results.append((scenario, result, error))
            finally:
                shopper.close()

    table = Table(title="paymux demo: checkouts on the embedded sandbox")
    for column in ("checkout", "route", "next actions", "callbacks", "status", "refunded", "ok"):
        table.add_column(column)
    failures = 0
    for scenario, result, error in results:
        if result is None:
            failures += 1
            table.add_row(
                scenario.title, "-", "-", "-", f"[red]{error}[/red]", "-", "[red]no[/red]"
            )
            continue
        ok = (
            result.charge.status is scenario.expected
            and result.charge.refunded_amount == scenario.expected_refunded
        )
        failures += not ok
        table.add_row(
            scenario.title,
            result.provider,
            " > ".join(result.next_actions) or "-",
            str(result.callbacks),
            result.charge.status.value,
            str(result.charge.refunded_amount),
            "[green]yes[/green]" if ok else f"[red]no (expected {scenario.expected.value})[/red]",
        )
    console.print(table)
    console.print(
        f"{len(results) - failures} of {len(results)} checkouts ended as expected"
        f" in {time.monotonic() - started:.1f} s."
    )
    return 0 if failures == 0 else 1
