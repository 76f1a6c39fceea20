"""The sandbox's Starlette application: emulators, customer pages, merchant inbox, controls."""

from __future__ import annotations

import html
import json
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route

from .emulator import CUSTOMER_ACTIONS, CustomerAction, Emulator
from .faults import REQUEST_FAULTS, ASGIApp, FaultMiddleware
from .hub import SandboxHub

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1.1rem;margin:.3rem;padding:.6rem 1.2rem}}.pay{{background:#1a7f37;color:#fff}}
dt{{color:#555}}</style></head><body>{body}</body></html>"""


def _payment_view(hub: SandboxHub, request: Request) -> Response:
    provider, payment_id = request.path_params["provider"], request.path_params["payment_id"]
    payment = hub.payment(provider, payment_id)
    if payment is None:
        return HTMLResponse(
            _PAGE.format(title="Unknown payment", body="<h1>Unknown payment</h1>"), 404
        )
    esc = html.escape
    details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in payment.details.items())
    if payment.state == "waiting":
        buttons = "".join(
            f'<form method="post" action="/customer/{esc(provider)}/{esc(payment_id)}/{action}"'
            f' style="display:inline"><button class="{action}" id="{action}" type="submit">'
            f"{action.capitalize()}</button></form>"
            for action in CUSTOMER_ACTIONS
        )
    else:
        buttons = f'<p id="result">Done: {esc(payment.state)}</p>'
    body = (
        f"<h1>Sandbox {esc(provider)} payment</h1><p>{esc(payment.description)}</p>"
        f'<p id="amount"><strong>{esc(str(payment.amount))}</strong></p><dl>{details}</dl>{buttons}'
        "<p><small>Simulated customer: nothing here moves real money.</small></p>"
    )
    return HTMLResponse(_PAGE.format(title=f"Pay {esc(str(payment.amount))}", body=body))


_PROBABILITIES = frozenset(
    {"latency", "error", "drop", "late"}
    | {f"callback_{k}" for k in ("drop", "duplicate", "reorder", "delay")}
)


def fault_settings(values: Any) -> dict[str, Any]:
    """A fault plan update from JSON, checked so that a typo over HTTP is a 400, not a crash."""
    if not isinstance(values, dict):
        raise ValueError("expected a JSON object of fault settings")
    for key, value in values.items():
        if key in _PROBABILITIES and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
        ):
            raise ValueError(f"{key} must be a probability from 0 to 1")
        if key.endswith("_ms") and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ValueError(f"{key} must be a whole number of milliseconds >= 0")
        if key == "once" and (
            not isinstance(value, list)
            or not all(
                isinstance(item, list | tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and item[1] in REQUEST_FAULTS
                for item in value
            )
        ):
            raise ValueError(
                f"once must be a list of [path prefix, fault], fault one of"
                f" {', '.join(REQUEST_FAULTS)}"
            )
    return values


def build_app(hub: SandboxHub, emulators: list[Emulator]) -> Starlette:
    async def customer_page(request: Request) -> Response:
        return _payment_view(hub, request)

    async def customer_act(request: Request) -> Response:
        provider, payment_id = request.path_params["provider"], request.path_params["payment_id"]
        action = request.path_params["action"]
        wants_json = request.url.path.startswith("/customer/api/")
        if action not in CUSTOMER_ACTIONS:
            return JSONResponse(
                {"error": f"action must be one of {', '.join(CUSTOMER_ACTIONS)}"}, 400
            )
        try:
            payment = hub.act(provider, payment_id, cast(CustomerAction, action))
        except KeyError as error:
            return JSONResponse({"error": str(error)}, 404)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, 409)
        if wants_json:
            return JSONResponse(
                {
                    "provider": provider,
                    "id": payment.id,
                    "reference": payment.details.get("reference") or payment.id,
                    "state": payment.state,
                }
            )
        target = payment.details.get("return_url")
        if target:
            return RedirectResponse(target, 303)
        return RedirectResponse(f"/customer/{provider}/{payment.id}", 303)

    async def customer_list(request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "provider": p.provider,
                    "id": p.id,
                    "amount": p.amount.amount,
                    "currency": p.amount.currency,
                    "state": p.state,
                    "page": hub.customer_url(p.provider, p.id),
                }
                for p in hub.payments()
            ]
        )

    async def merchant_callback(request: Request) -> Response:
        hub.receive(request.path_params["provider"], await request.body(), dict(request.headers))
        return PlainTextResponse("OK")

    async def merchant_return(request: Request) -> Response:
        return HTMLResponse(
            _PAGE.format(title="Back at the shop", body="<h1>Back at the shop</h1>")
        )

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                hub.faults.update(fault_settings(json.loads(await request.body() or b"{}")))
            except (ValueError, TypeError) as error:
                return JSONResponse({"error": str(error)}, 400)
        return JSONResponse(hub.faults.as_dict())

    async def settings_file(request: Request) -> Response:
        from .config_file import render

        settings = {e.name: e.provider_settings() for e in emulators}
        return PlainTextResponse(render(settings, hub.base_url))

    async def callbacks(request: Request) -> Response:
        wanted = request.query_params.get("provider")
        return JSONResponse(
            [d for d in hub.deliveries() if wanted is None or d["provider"] == wanted]
        )

    async def status(request: Request) -> Response:
        stats: dict[str, Any] = vars(hub.callbacks.stats)
        return JSONResponse(
            {
                "emulators": {e.name: e.describe() for e in emulators},
                "callbacks": stats,
                "payments": len(hub.payments()),
            }
        )

    routes: list[Any] = [
        Route("/_sandbox", status),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/paymux.toml", settings_file),
        Route("/customer/api/payments", customer_list),
        Route("/customer/api/{provider}/{payment_id}/{action}", customer_act, methods=["POST"]),
        Route("/customer/{provider}/{payment_id}", customer_page),
        Route("/customer/{provider}/{payment_id}/{action}", customer_act, methods=["POST"]),
        Route("/merchant/api/callbacks", callbacks),
        Route("/merchant/api/faults", faults, methods=["GET", "POST"]),
        Route("/merchant/return", merchant_return, methods=["GET", "POST"]),
        Route("/merchant/{provider}", merchant_callback, methods=["POST"]),
    ]
    routes += [Mount(f"/{e.name}", routes=e.routes()) for e in emulators]
    app = Starlette(routes=routes)
    prefixes = tuple(f"/{e.name}/" for e in emulators)
    app.add_middleware(cast(Any, FaultMiddleware), plan=hub.faults, prefixes=prefixes)
    return app


def as_asgi(app: Starlette) -> ASGIApp:
    return cast(ASGIApp, app)
