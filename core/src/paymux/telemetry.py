"""What operators observe: structured log attributes, and OpenTelemetry spans and metrics.

OpenTelemetry is optional (``pip install 'paymux[otel]'``, the API package only). It is imported on
the first provider call, never by ``import paymux``; without it, or with ``configure(enabled=False)``,
every hook here is a couple of attribute checks. Spans are made only once a real tracer provider is
installed (the API's default provider would only hand out no-op spans, at a cost per call).
See docs/telemetry.md for every attribute and metric.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    import httpx
    from opentelemetry.metrics import Counter, Histogram, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

SCOPE = "paymux"

# Span and metric attribute names (docs/telemetry.md lists them).
PROVIDER = "paymux.provider"
OPERATION = "paymux.operation"
REFERENCE = "paymux.reference"
ATTEMPT = "paymux.attempt"
REQUEST_ID = "paymux.request_id"
WEBHOOK_RESULT = "paymux.webhook.result"
STATUS_CODE = "http.response.status_code"
METHOD = "http.request.method"
ERROR_TYPE = "error.type"

REQUEST_DURATION = "paymux.provider.request.duration"
REQUESTS = "paymux.provider.requests"
WEBHOOK_VERIFICATIONS = "paymux.webhook.verifications"

# OpenTelemetry's recommended boundaries for HTTP client durations, in seconds: the SDK's default
# buckets are meant for milliseconds and would put every provider call in the first two.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id")
_REQUEST_ID_LENGTH = 128

RequestIdOf = Callable[["httpx.Response"], "str | None"]


def header_request_id(response: httpx.Response) -> str | None:
    """The request id a provider sends in a conventional header, if any."""
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def clean_request_id(value: object) -> str | None:
    """A provider's request id fit for a log attribute: text, bounded, else None."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value)
    return text[:_REQUEST_ID_LENGTH] if text.isprintable() and text else None


class _Otel:
    """The OpenTelemetry objects paymux uses, built once per configuration."""

    def __init__(
        self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None
    ) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.environment_variables import (
            OTEL_PYTHON_METER_PROVIDER,
            OTEL_PYTHON_TRACER_PROVIDER,
        )

        self.trace = trace
        self.context = context
        self._metrics_module = metrics._internal
        # Until an application installs an SDK, the API's global providers are proxies handing
        # out no-op objects that still cost a few microseconds a call. Whether one has been
        # installed is a module global of the (pinned) API; if a future API drops it, or the
        # environment names a provider to load, the public getters decide instead.
        self._trace_set_by_env = OTEL_PYTHON_TRACER_PROVIDER in os.environ
        self._meter_set_by_env = OTEL_PYTHON_METER_PROVIDER in os.environ
        self.explicit_meter = meter_provider is not None
        self.explicit_tracer: Tracer | None = (
            tracer_provider.get_tracer(SCOPE, __version__) if tracer_provider else None
        )
        self._global_provider: object = None
        self._global_tracer: Tracer | None = None
        # A global meter is a proxy until an SDK is installed, then forwards: cheap either way.
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(SCOPE, __version__)
        self.duration: Histogram = meter.create_histogram(
            REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP requests to payment providers",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.requests: Counter = meter.create_counter(
            REQUESTS, unit="{request}", description="HTTP requests to payment providers, by outcome"
        )
        self.webhooks: Counter = meter.create_counter(
            WEBHOOK_VERIFICATIONS,
            unit="{webhook}",
            description="Webhooks and callbacks given to parse_webhook, by result",
        )

    def metrics_on(self) -> bool:
        if self.explicit_meter or self._meter_set_by_env:
            return True
        return getattr(self._metrics_module, "_METER_PROVIDER", True) is not None

    def tracer(self) -> Tracer | None:
        if self.explicit_tracer is not None:
            return self.explicit_tracer
        if (
            not self._trace_set_by_env
            and getattr(self.trace, "_TRACER_PROVIDER", True) is None
            and self._global_tracer is None
        ):
            return None
        provider = self.trace.get_tracer_provider()
        if provider is not self._global_provider:
            self._global_provider = provider
            no_op = isinstance(
                provider, self.trace.ProxyTracerProvider | self.trace.NoOpTracerProvider
            )
            self._global_tracer = None if no_op else provider.get_tracer(SCOPE, __version__)
        return self._global_tracer


_loading = threading.Lock()


class _Settings:
    enabled = True
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    loaded = False
    otel: _Otel | None = None


def configure(
    *,
    enabled: bool = True,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> None:
    """Choose where paymux's spans and metrics go (the global providers by default).

    ``enabled=False`` turns paymux's OpenTelemetry off even when it is installed; structured log
    attributes are unaffected (they follow the ``paymux.http`` logger's level).
    """
    _Settings.enabled = enabled
    if (tracer_provider, meter_provider) != (_Settings.tracer_provider, _Settings.meter_provider):
        # Instruments and tracers are built again on the next call; turning off and on keeps them.
        _Settings.tracer_provider = tracer_provider
        _Settings.meter_provider = meter_provider
        _Settings.loaded = False
        _Settings.otel = None


def _otel() -> _Otel | None:
    if not _Settings.enabled:
        return None
    if not _Settings.loaded:
        with _loading:
            # Two threads' first calls would each create the instruments (the SDK warns).
            if not _Settings.loaded:
                try:
                    _Settings.otel = _Otel(_Settings.tracer_provider, _Settings.meter_provider)
                except ImportError:
                    _Settings.otel = None
                _Settings.loaded = True
    return _Settings.otel


def _error_type(error: BaseException) -> str:
    kind = type(error)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _webhook_result(error: BaseException | None) -> str:
    from .errors import InvalidRequest, WebhookParseError, WebhookVerificationError

    if error is None:
        return "verified"
    if isinstance(error, WebhookVerificationError):
        return "rejected"
    if isinstance(error, WebhookParseError | InvalidRequest):
        return "malformed"
    return "error"


def _reference_of(result: object) -> str | None:
    reference = getattr(result, "reference", None)
    if reference is None:
        reference = getattr(getattr(result, "charge", None), "reference", None)
    return reference if isinstance(reference, str) else None


def start_operation(
    provider: str, operation: str, reference: str | None
) -> OperationTelemetry | None:
    """The telemetry of one gateway operation; None when nothing would record it."""
    otel = _otel()
    if otel is None:
        return None
    tracer = otel.tracer()
    metrics = otel.metrics_on()
    if tracer is None and not metrics:
        return None
    return OperationTelemetry(otel, tracer, metrics, provider, operation, reference)


class OperationTelemetry:
    """One gateway operation: its span (current while it runs) and its HTTP calls' spans."""

    __slots__ = (
        "_call",
        "_call_token",
        "_token",
        "metrics",
        "otel",
        "provider",
        "reference",
        "span",
        "tracer",
    )

    def __init__(
        self,
        otel: _Otel,
        tracer: Tracer | None,
        metrics: bool,
        provider: str,
        operation: str,
        reference: str | None,
    ) -> None:
        self.provider = provider
        self.reference = reference
        self.otel = otel
        self.tracer = tracer
        self.metrics = metrics
        self.span: Span | None = None
        self._token: object = None
        self._call: Span | None = None
        self._call_token: object = None
        if tracer is not None:
            attributes = {PROVIDER: provider, OPERATION: operation}
            if reference:
                attributes[REFERENCE] = reference
            self.span = tracer.start_span(f"paymux {operation}", attributes=attributes)
            self._token = otel.context.attach(otel.trace.set_span_in_context(self.span))

    @property
    def recording(self) -> bool:
        return self.span is not None

    def call_started(self, request: httpx.Request, operation: str, attempt: int, url: str) -> None:
        if self.tracer is None:
            return
        attributes: dict[str, str | int] = {
            PROVIDER: self.provider,
            OPERATION: operation,
            METHOD: request.method,
            "url.full": url,
            "server.address": request.url.host,
            ATTEMPT: attempt,
        }
        if request.url.port is not None:
            attributes["server.port"] = request.url.port
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
        if self.reference:
            attributes[REFERENCE] = self.reference
        trace = self.otel.trace
        self._call = self.tracer.start_span(
            request.method, kind=trace.SpanKind.CLIENT, attributes=attributes
        )
        self._call_token = self.otel.context.attach(trace.set_span_in_context(self._call))

    def call_ended(
        self,
        request: httpx.Request,
        operation: str,
        started: float,
        status: int | None,
        request_id: str | None,
        error: BaseException | None,
    ) -> None:
        otel = self.otel
        if self.metrics:
            attributes: dict[str, str | int] = {
                PROVIDER: self.provider,
                OPERATION: operation,
                METHOD: request.method,
            }
            if status is not None:
                attributes[STATUS_CODE] = status
            if error is not None:
                attributes[ERROR_TYPE] = _error_type(error)
            otel.duration.record(time.perf_counter() - started, attributes)
            otel.requests.add(1, attributes)
        span, self._call = self._call, None
        if span is None:
            return
        otel.context.detach(self._call_token)
        if status is not None:
            span.set_attribute(STATUS_CODE, status)
        if request_id is not None:
            span.set_attribute(REQUEST_ID, request_id)
        if error is not None:
            self._fail(span, _error_type(error))
        elif status is not None and status >= 400:
            self._fail(span, str(status))
        span.end()

    def _fail(self, span: Span, error_type: str) -> None:
        # The type only: an exception's text or traceback could carry a payload or a secret.
        span.set_attribute(ERROR_TYPE, error_type)
        span.set_status(self.otel.trace.Status(self.otel.trace.StatusCode.ERROR, error_type))

    def finished(self, operation: str, result: object, error: BaseException | None) -> None:
        otel = self.otel
        if operation == "parse_webhook" and self.metrics:
            otel.webhooks.add(1, {PROVIDER: self.provider, WEBHOOK_RESULT: _webhook_result(error)})
        span, self.span = self.span, None
        if span is None:
            return
        otel.context.detach(self._token)
        if self.reference is None and error is None:
            reference = _reference_of(result)
            if reference:
                span.set_attribute(REFERENCE, reference)
        if error is not None:
            self._fail(span, _error_type(error))
        span.end()


def log_attributes(
    *,
    provider: str,
    operation: str,
    call: str,
    reference: str | None,
    attempt: int,
    method: str,
    url: str,
    status: int | None,
    request_id: str | None,
    duration_ms: float,
    error: str | None = None,
) -> dict[str, Any]:
    """The ``extra=`` of a provider call's log record (docs/telemetry.md); values already redacted."""
    return {
        "provider": provider,
        "operation": operation,
        "provider_operation": call,
        "reference": reference,
        "attempt": attempt,
        "http_method": method,
        "url": url,
        "http_status": status,
        "request_id": request_id,
        "duration_ms": round(duration_ms, 3),
        "error_type": error,
    }
