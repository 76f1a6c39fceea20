"""A webhook endpoint in Django: verify, dedupe, apply, answer what the provider expects.

settings.py needs ``PAYMUX_CONFIG = "paymux.toml"`` and ``PAYMENTS_DB = "payments.sqlite3"``;
include ``urlpatterns`` from your root URLconf.
"""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from webhook_store import PaymentStore

from paymux import Gateway
from paymux.errors import ConfigurationError, WebhookParseError, WebhookVerificationError

log = logging.getLogger("shop.webhooks")


@cache
def gateway() -> Gateway:
    return Gateway.from_config(settings.PAYMUX_CONFIG)  # one per process: it pools connections


@cache
def store() -> PaymentStore:
    return PaymentStore(settings.PAYMENTS_DB)


@csrf_exempt  # the provider cannot send a CSRF token; the signature is the proof
@require_POST
def paymux_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    try:
        event = gateway().parse_webhook(provider, request.body, dict(request.headers))
    except ConfigurationError:
        return HttpResponse("unknown provider", status=404)
    except WebhookVerificationError:
        log.warning("rejected a %s callback that failed verification", provider)
        return HttpResponse("invalid signature", status=400)
    except WebhookParseError:
        log.exception("authentic %s callback that paymux cannot read", provider)
        return HttpResponse("cannot read callback", status=500)  # the provider retries

    store().apply(event)  # False for a redelivery: still a success
    status, text = gateway().provider(provider).webhook_ack
    return HttpResponse(text, status=status)


urlpatterns = [path("webhooks/<str:provider>", paymux_webhook)]
