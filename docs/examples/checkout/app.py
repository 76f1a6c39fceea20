"""The example shop: one product, six ways to pay, every step through paymux.

The gateway chooses the provider, the ledger records the charge and applies the verified
callbacks, and the pages only ever show what the ledger knows. Nothing here trusts the
customer's return to the shop: the receipt waits for the provider's signed word.
"""

from __future__ import annotations

import base64
import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from paymux import (
    AsyncGateway,
    Charge,
    ChargeRequest,
    Customer,
    DisplayQrCode,
    Money,
    ProvideInformation,
    RedirectToUrl,
    ReturnUrls,
)
from paymux.errors import (
    ConfigurationError,
    InvalidRequest,
    NoRouteError,
    PaymuxError,
    WebhookParseError,
    WebhookVerificationError,
)
from paymux.ledger import AsyncLedger


@dataclass(frozen=True)
class PaymentOption:
    label: str
    method: str
    country: str
    price: Money


PRODUCT = "Celadon tea cup"
# The one signed-in customer of this example (a real shop reads these from the session).
CUSTOMER_ID, CUSTOMER_EMAIL = "customer-1", "customer-1@example.com"
OPTIONS = {
    "kakaopay-kr": PaymentOption("KakaoPay (Korea)", "kakaopay", "KR", Money(25_000, "KRW")),
    "payco-kr": PaymentOption("Payco (Korea)", "payco", "KR", Money(25_000, "KRW")),
    "card-ke": PaymentOption("Card (Kenya)", "card", "KE", Money.of("2500.00", "KES")),
    "kakaopay-sg": PaymentOption(
        "KakaoPay (Singapore)", "kakaopay", "SG", Money.of("15.00", "SGD")
    ),
    "paynow-sg": PaymentOption("PayNow (Singapore)", "paynow", "SG", Money.of("15.00", "SGD")),
    # Taken by the sandbox's Thai Omise account: the router picks it by country alone.
    "promptpay-th": PaymentOption(
        "PromptPay (Thailand)", "promptpay", "TH", Money.of("350.00", "THB")
    ),
}

OUTCOMES = {
    "succeeded": "Thank you: your payment was received.",
    "partially_refunded": "Paid, and part of it was refunded.",
    "refunded": "Paid and refunded in full.",
    "failed": "The payment did not go through.",
    "expired": "The payment was not completed in time.",
    "canceled": "The payment was canceled.",
}

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">{head}
<title>{title}</title><style>
body{{font-family:system-ui,sans-serif;max-width:34rem;margin:2.5rem auto;padding:0 1rem}}
button{{font-size:1.05rem;padding:.5rem 1.1rem}} label{{display:block;margin:.4rem 0}}
.note{{color:#555;font-size:.9rem}} th{{text-align:left;padding-right:1rem}} .error{{color:#b00020}}
</style></head><body><p class="note">Example shop: sandbox payments only</p>
<h1>{title}</h1>{body}</body></html>"""
BACK_TO_CART = '<p><a id="back" href="/">Back to the cart</a></p>'


def page(title: str, body: str, *, status: int = 200, refresh: str | None = None) -> HTMLResponse:
    """A whole page; ``refresh`` reloads it (or goes to a URL) after a few seconds."""
    head = f'<meta http-equiv="refresh" content="{html.escape(refresh)}">' if refresh else ""
    return HTMLResponse(PAGE.format(head=head, title=html.escape(title), body=body), status)


async def form_data(request: Request) -> dict[str, str]:
    """The posted form's fields (plain urlencoded forms are all this shop posts)."""
    return dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))


def create_app(
    gateway: AsyncGateway,
    ledger: AsyncLedger,
    *,
    shop_url: str,
    secure_shop_url: str | None = None,
    wait_seconds: float = 10.0,
) -> Starlette:
    """The shop's pages and its webhook endpoint.

    ``shop_url`` is where the shop listens; ``secure_shop_url`` is the same app over HTTPS, used
    for the addresses the providers send the customer back to (Omise accepts only HTTPS ones).
    ``wait_seconds`` bounds how long one page waits for a callback before it reloads itself.
    """
    return_base = (secure_shop_url or shop_url).rstrip("/")

    # -- the cart and the start of a payment -------------------------------------------------

    async def cart(request: Request) -> Response:
        choices = "".join(
            f'<label><input type="radio" name="option" value="{key}" id="option-{key}"'
            f"{' checked' if index == 0 else ''}> {html.escape(option.label)}:"
            f" {html.escape(str(option.price))}</label>"
            for index, (key, option) in enumerate(OPTIONS.items())
        )
        body = (
            f"<p>1 &times; {PRODUCT}</p>"
            f'<form method="post" action="/checkout"><fieldset><legend>Pay with</legend>'
            f'{choices}</fieldset><p><button id="checkout" type="submit">Pay</button></p></form>'
        )
        return page("Your cart", body)

    # --8<-- [start:checkout]
    async def checkout(request: Request) -> Response:
        option = OPTIONS.get((await form_data(request)).get("option", ""))
        if option is None:
            return page("Choose a payment method", BACK_TO_CART, status=400)
        reference = f"order-{uuid.uuid4().hex[:12]}"
        back_here = f"{return_base}/orders/{reference}/return"
        charge_request = ChargeRequest(
            reference=reference,
            amount=option.price,
            method=option.method,
            country=option.country,
            # The signed-in customer's account gives the e-mail; the phone is asked for when needed.
            customer=Customer(id=CUSTOMER_ID, email=CUSTOMER_EMAIL, ip_address=request_ip(request)),
            # One return page for every outcome: it shows what the ledger verified, never what
            # the URL claims, so a declined customer sees the decline there too.
            return_urls=ReturnUrls(success=back_here, decline=back_here),
            description=f"{PRODUCT} ({reference})",
        )
        try:
            route = gateway.route(charge_request)  # which provider takes it, and why
            await ledger.create_charge(charge_request, provider=route.provider)
        except PaymuxError as error:
            return failure_page(error)
        return RedirectResponse(f"/orders/{reference}", 303)

    # --8<-- [end:checkout]

    # -- the next action: QR code, redirect, or a question for the customer ------------------

    # --8<-- [start:next-step]
    async def next_step(request: Request) -> Response:
        """Show what the customer must do next; it may come in a callback after the create."""
        reference = request.path_params["reference"]
        answered = request.query_params.get("answered") == "1"
        known = await ledger.get(reference)
        if known is None:
            return unknown_order()
        ready = has_next_step(answered)
        charge = await ledger.wait(reference, until=ready, timeout=wait_seconds) or known
        if charge.status.is_final:
            return RedirectResponse(f"/orders/{reference}/receipt", 303)
        action = charge.next_action
        if isinstance(action, DisplayQrCode):
            return qr_page(charge, action)
        if isinstance(action, RedirectToUrl):
            if action.method == "POST":
                return HTMLResponse(action.html(title="Taking you to the payment page"))
            return RedirectResponse(action.url, 303)
        if isinstance(action, ProvideInformation) and not answered:
            return details_page(charge, action)
        waiting = f"<p>Waiting for {html.escape(charge.provider)} &hellip;</p>"
        return page("One moment", waiting, refresh="2")

    async def send_details(request: Request) -> Response:
        """The customer's answer to a ProvideInformation next action, sent with clarify."""
        reference = request.path_params["reference"]
        charge = await ledger.get(reference)
        if charge is None or not isinstance(charge.next_action, ProvideInformation):
            return RedirectResponse(f"/orders/{reference}", 303)
        form = await form_data(request)
        values = {
            field.name: form.get(field.name, "").strip() for field in charge.next_action.fields
        }
        try:
            await gateway.clarify(charge, values)
        except InvalidRequest as error:
            return details_page(charge, charge.next_action, error=error.reason)
        except PaymuxError as error:
            return failure_page(error)
        return RedirectResponse(f"/orders/{reference}?answered=1", 303)

    # --8<-- [end:next-step]

    # -- back at the shop: wait for the verified outcome, then the receipt -------------------

    # --8<-- [start:return]
    async def back_at_shop(request: Request) -> Response:
        """The return URL. Anyone can open it: the outcome comes from the ledger, not from here."""
        reference = request.path_params["reference"]
        known = await ledger.get(reference)
        if known is None:
            return unknown_order()
        charge = await ledger.wait(reference, timeout=wait_seconds) or known  # until final
        if not charge.status.is_final:
            body = "<p>Waiting for the payment provider to confirm your payment &hellip;</p>"
            return page("Checking your payment", body, refresh="2")
        return RedirectResponse(f"/orders/{reference}/receipt", 303)

    async def receipt(request: Request) -> Response:
        reference = request.path_params["reference"]
        charge = await ledger.get(reference)
        if charge is None or not charge.status.is_final:
            return RedirectResponse(f"/orders/{reference}/return", 303)
        return receipt_page(charge)

    async def refund(request: Request) -> Response:
        reference = request.path_params["reference"]
        charge = await ledger.get(reference)
        if charge is None:
            return unknown_order()
        try:
            await ledger.refund(charge, reason="refund button on the receipt")
        except PaymuxError as error:
            return receipt_page(charge, error=str(error))
        # The provider confirms refunds in a callback too; show the receipt once it has.
        before = charge.refunded_amount
        await ledger.wait(
            reference, until=lambda c: c.refunded_amount != before, timeout=wait_seconds
        )
        return RedirectResponse(f"/orders/{reference}/receipt", 303)

    # --8<-- [end:return]

    # -- the providers' callbacks --------------------------------------------------------------

    # --8<-- [start:webhook]
    async def webhook(request: Request) -> Response:
        provider = request.path_params["provider"]
        body = await request.body()  # the raw bytes: the signature covers exactly these
        try:
            await ledger.handle_webhook(provider, body=body, headers=dict(request.headers))
        except ConfigurationError:
            return Response("unknown provider", 404)
        except WebhookVerificationError:
            return Response("invalid signature", 400)  # forged or altered: change nothing
        except WebhookParseError:
            return Response("cannot read callback", 500)  # authentic: let the provider retry
        status, text = gateway.provider(provider).webhook_ack
        return Response(text, status)

    # --8<-- [end:webhook]

    return Starlette(
        routes=[
            Route("/", cart),
            Route("/checkout", checkout, methods=["POST"]),
            Route("/orders/{reference}", next_step),
            Route("/orders/{reference}/details", send_details, methods=["POST"]),
            Route("/orders/{reference}/return", back_at_shop, methods=["GET", "POST"]),
            Route("/orders/{reference}/receipt", receipt),
            Route("/orders/{reference}/refund", refund, methods=["POST"]),
            Route("/webhooks/{provider}", webhook, methods=["POST"]),
        ]
    )


# --8<-- [start:ready]
def has_next_step(answered: bool) -> Callable[[Charge], bool]:
    """Ready to show: a final status, or a next action (other than an answered question)."""

    def ready(charge: Charge) -> bool:
        if charge.status.is_final:
            return True
        action = charge.next_action
        return action is not None and not (answered and isinstance(action, ProvideInformation))

    return ready


# --8<-- [end:ready]
def request_ip(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


# -- pages ---------------------------------------------------------------------------------------


def qr_page(charge: Charge, qr: DisplayQrCode) -> Response:
    expires = f"<p>The code expires at {qr.expires_at:%H:%M}.</p>" if qr.expires_at else ""
    if qr.data:
        app = "KakaoPay" if charge.method == "kakaopay" else "your app"
        code = f'<div id="qr">{qr.svg(scale=5)}</div>'
        # In the sandbox the code holds the simulated customer's page: open it here instead.
        code += (
            f'<p><a id="open-wallet" href="{html.escape(qr.data, quote=True)}">'
            "Pay on this device instead</a></p>"
        )
    else:
        # PromptPay and PayNow through Omise: the provider's image, not the text it encodes.
        app = "your banking app"
        source = (
            f"data:image/png;base64,{base64.b64encode(qr.image_png).decode('ascii')}"
            if qr.image_png
            else qr.image_url or ""
        )
        code = f'<div id="qr"><img alt="QR code" src="{html.escape(source, quote=True)}"></div>'
    body = (
        f'<p>Scan this code with {app} to pay <strong id="amount">{charge.amount}</strong>.</p>'
        f"{code}{expires}"
        '<p class="note">This page checks for your payment every few seconds.</p>'
    )
    return page("Scan to pay", body, refresh="5")


def details_page(charge: Charge, question: ProvideInformation, *, error: str = "") -> Response:
    inputs = "".join(
        f"<label>{html.escape(field.description or field.name)}"
        f' <input name="{html.escape(field.name, quote=True)}" id="{field_id(field.name)}"'
        f' type="{"tel" if field.name.endswith("phone") else "text"}" required></label>'
        for field in question.fields
    )
    problem = f'<p class="error" id="error">{html.escape(error)}</p>' if error else ""
    body = (
        f"<p>{html.escape(charge.provider)} needs a few more details to take"
        f" <strong>{charge.amount}</strong>.</p>{problem}"
        f'<form method="post" action="/orders/{charge.reference}/details">{inputs}'
        '<p><button id="send-details" type="submit">Continue</button></p></form>'
    )
    return page("A few more details", body)


def field_id(name: str) -> str:
    return "field-" + name.replace(".", "-")


def receipt_page(charge: Charge, *, error: str = "") -> Response:
    rows = [
        ("Order", charge.reference or charge.id),
        ("Amount", str(charge.amount)),
        ("Method", f"{charge.method} via {charge.provider}"),
        ("Status", charge.status.value),
    ]
    if charge.refunded_amount and charge.refunded_amount.amount:
        rows.append(("Refunded", str(charge.refunded_amount)))
    if charge.failure is not None:
        rows.append(("Reason", charge.failure.reason.value))
    table = "".join(
        f'<tr><th scope="row">{html.escape(k)}</th><td id="receipt-{k.lower().replace(" ", "-")}">'
        f"{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    refund_form = ""
    if charge.refundable_amount.amount:
        refund_form = (
            f'<form method="post" action="/orders/{charge.reference}/refund">'
            f'<button id="refund" type="submit">Refund {charge.refundable_amount}</button></form>'
        )
    problem = f'<p class="error" id="error">{html.escape(error)}</p>' if error else ""
    body = (
        f'<p id="outcome">{html.escape(OUTCOMES.get(charge.status.value, charge.status.value))}</p>'
        f"<table>{table}</table>{problem}{refund_form}"
        f"{BACK_TO_CART}"
    )
    return page("Receipt", body)


def unknown_order() -> Response:
    return page("Unknown order", BACK_TO_CART, status=404)


def failure_page(error: PaymuxError) -> Response:
    """Our request was refused before it left (400), or the provider said no (502)."""
    status = 400 if isinstance(error, InvalidRequest | NoRouteError) else 502
    body = f'<p class="error" id="error">{html.escape(str(error))}</p>{BACK_TO_CART}'
    return page("We could not start the payment", body, status=status)
