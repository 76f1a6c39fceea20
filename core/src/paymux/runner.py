"""Drives provider flows over httpx: timeouts, connection reuse, safe retries, redacted logs."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import httpx

from .errors import PaymuxError, ProviderError, TransportError
from .payload import PayloadError, unreadable_answer
from .provider import BEST_EFFORT, EARLIER_ATTEMPT, OPERATION, Flow, is_retry_safe
from .redaction import Redactor
from .telemetry import (
    RequestIdOf,
    clean_request_id,
    header_request_id,
    log_attributes,
    start_operation,
)

if TYPE_CHECKING:
    # tenacity is imported where a retry is about to happen (see _Replay): most processes never
    # retry, and importing it costs several milliseconds of start-up.
    from tenacity import RetryCallState

T = TypeVar("T")
log = logging.getLogger("paymux.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, pool=10.0)

# Errors that prove the request never left this machine.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often a request marked safe to repeat is sent again.

    Only requests the provider marks safe (reads, or writes carrying the provider's idempotency
    reference) are ever repeated: after a network failure of any kind (refused, reset, timed out,
    cut off mid-answer), or a 429/502/503/504 answer. Sending such a request twice is harmless by
    definition, and a read that timed out is the commonest failure worth a second try.
    """

    attempts: int = 4
    initial_wait: float = 0.2
    max_wait: float = 5.0
    jitter: float = 0.2
    max_retry_after: float = 30.0
    """A ``Retry-After`` longer than this is not waited for: the answer is returned as it is."""
    total: float = 60.0
    statuses: frozenset[int] = field(default=frozenset({429, 502, 503, 504}))

    def retryable_response(self, response: httpx.Response) -> bool:
        if response.status_code not in self.statuses or not is_retry_safe(response.request):
            return False
        delay = retry_after(response)
        return delay is None or delay <= self.max_retry_after

    @staticmethod
    def retryable_exception(error: BaseException) -> bool:
        if not isinstance(error, httpx.TransportError):
            return False
        request = getattr(error, "_request", None)
        return request is not None and is_retry_safe(request)

    def wait(self) -> Callable[[RetryCallState], float]:
        from tenacity import wait_exponential_jitter

        backoff = wait_exponential_jitter(
            multiplier=self.initial_wait, max=self.max_wait, jitter=self.jitter
        )

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            if outcome is not None and not outcome.failed:
                delay = retry_after(outcome.result())
                if delay is not None:
                    return delay
            return float(backoff(state))

        return wait

    def tenacity_kwargs(self) -> dict[str, object]:
        from tenacity import (
            retry_if_exception,
            retry_if_result,
            stop_after_attempt,
            stop_after_delay,
        )

        return {
            "retry": retry_if_exception(self.retryable_exception)
            | retry_if_result(self.retryable_response),
            "wait": self.wait(),
            "stop": stop_after_attempt(self.attempts) | stop_after_delay(self.total),
            "retry_error_callback": _last_outcome,
            "reraise": True,
        }


NO_RETRY = RetryPolicy(attempts=1)


def _last_outcome(state: RetryCallState) -> httpx.Response:
    assert state.outcome is not None
    return state.outcome.result()  # type: ignore[no-any-return]


class _Replay:
    """Hands tenacity the first attempt's outcome, already known, then sends for real.

    Most requests succeed at once, and building tenacity's machinery costs more than a loopback
    round trip's worth of parsing; so the first attempt is made directly and tenacity is brought in
    only when that outcome is to be retried. It then sees exactly what it would have seen had it
    made the attempt: the same outcome as attempt 1, its clock started before it.
    """

    def __init__(self, outcome: httpx.Response | Exception, started: float) -> None:
        self.outcome: httpx.Response | Exception | None = outcome
        self.started = started
        self.reached = _may_have_arrived(outcome)
        """Whether an attempt so far may have reached the provider."""

    def settled(self, outcome: httpx.Response | BaseException) -> None:
        """Record a later attempt's outcome; a response after one that may have arrived says so
        (:func:`paymux.provider.after_earlier_attempt`)."""
        if isinstance(outcome, httpx.Response) and self.reached:
            outcome.extensions[EARLIER_ATTEMPT] = True
        self.reached = self.reached or _may_have_arrived(outcome)

    def first(self) -> httpx.Response:
        outcome, self.outcome = self.outcome, None
        assert outcome is not None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def before(self, state: RetryCallState) -> None:
        if state.attempt_number == 1:
            state.start_time = self.started


def _may_have_arrived(outcome: httpx.Response | BaseException) -> bool:
    return isinstance(outcome, httpx.Response) or (
        isinstance(outcome, httpx.TransportError) and not isinstance(outcome, _NOT_SENT)
    )


def _first_attempt(
    policy: RetryPolicy, outcome: httpx.Response | Exception, started: float
) -> httpx.Response | _Replay:
    """The response when the first outcome stands; a replay of it when tenacity takes over."""
    if isinstance(outcome, Exception):
        if not policy.retryable_exception(outcome):
            raise outcome
        return _Replay(outcome, started)
    if not policy.retryable_response(outcome):
        return outcome
    return _Replay(outcome, started)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP-date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _Context:
    """What both runners share: the provider's name, redaction, error translation, telemetry."""

    def __init__(
        self,
        provider: str,
        redactor: Redactor,
        policy: RetryPolicy,
        payload_error: type[PaymuxError],
        operation: str,
        reference: str | None,
        request_id_of: RequestIdOf | None,
    ):
        self.provider = provider
        self.redactor = redactor
        self.policy = policy
        self.payload_error = payload_error
        self.operation = operation
        self.reference = reference
        self.request_id_of = request_id_of or header_request_id
        self.attempt = 0
        self.last_status: int | None = None
        """The HTTP status of the last answer handed to the flow (for an unreadable one)."""
        self._sending: httpx.Request | None = None
        self.telemetry = start_operation(provider, operation, reference)

    def before(self, request: httpx.Request) -> float:
        # A retry sends the same request object again; the flow's next request starts anew.
        if request is self._sending:
            self.attempt += 1
        else:
            self._sending, self.attempt = request, 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s %s (attempt %d)",
                self.provider,
                request.extensions.get(OPERATION, "request"),
                request.method,
                self.redactor.url(request.url),
                self.attempt,
            )
        if self.telemetry is not None and self.telemetry.recording:
            call = request.extensions.get(OPERATION, self.operation)
            self.telemetry.call_started(request, call, self.attempt, self.redactor.url(request.url))
        return time.perf_counter()

    def _request_id(self, response: httpx.Response) -> str | None:
        try:
            found = self.request_id_of(response)
        except Exception:  # a plugin's hook must never turn a good answer into an error
            return None
        cleaned = clean_request_id(found)
        return self.redactor.text(cleaned) if cleaned is not None else None

    def after(self, request: httpx.Request, response: httpx.Response, started: float) -> None:
        self.last_status = response.status_code
        self._ended(request, started, response, None)

    def failed(self, request: httpx.Request, error: BaseException, started: float) -> None:
        self._ended(request, started, None, error)

    def _ended(
        self,
        request: httpx.Request,
        started: float,
        response: httpx.Response | None,
        error: BaseException | None,
    ) -> None:
        call = request.extensions.get(OPERATION, self.operation)
        status = response.status_code if response is not None else None
        logging_it = log.isEnabledFor(logging.INFO)
        telemetry = self.telemetry
        if not logging_it and telemetry is None:
            return
        request_id = (
            self._request_id(response)
            if response is not None
            and (logging_it or (telemetry is not None and telemetry.recording))
            else None
        )
        if logging_it:
            took = (time.perf_counter() - started) * 1000
            url = self.redactor.url(request.url)
            outcome = str(status) if error is None else type(error).__name__
            log.info(
                "%s %s %s %s -> %s in %.0f ms",
                self.provider,
                call,
                request.method,
                url,
                outcome,
                took,
                extra=log_attributes(
                    provider=self.provider,
                    operation=self.operation,
                    call=call,
                    reference=self.reference,
                    attempt=self.attempt,
                    method=request.method,
                    url=url,
                    status=status,
                    request_id=request_id,
                    duration_ms=took,
                    error=type(error).__name__ if error is not None else None,
                ),
            )
        if telemetry is not None:
            telemetry.call_ended(request, call, started, status, request_id, error)

    def finished(self, result: object, error: BaseException | None) -> None:
        if self.telemetry is not None:
            self.telemetry.finished(self.operation, result, error)

    def transport_error(
        self, request: httpx.Request, error: httpx.TransportError
    ) -> TransportError:
        sent = not isinstance(error, _NOT_SENT)
        what = f"{request.method} {self.redactor.url(request.url)}"
        advice = (
            "it may have been processed: look the payment up (retrieve_charge by reference)"
            " before trying again"
            if sent
            else "it never reached the provider and can be sent again"
        )
        log.warning(
            "%s: %s failed: %s",
            self.provider,
            what,
            type(error).__name__,
            extra={
                "provider": self.provider,
                "operation": self.operation,
                "reference": self.reference,
                "attempt": self.attempt,
                "error_type": type(error).__name__,
            },
        )
        message = f"{self.provider}: {what} failed ({type(error).__name__}); {advice}"
        return TransportError(
            self.redactor.text(message), provider=self.provider, request_sent=sent
        )

    def flow_bug(self, error: Exception) -> PaymuxError:
        if isinstance(error, PayloadError):
            return self.unreadable(error)
        # A provider flow reads payloads through paymux.payload; this keeps the "never a bare
        # KeyError" promise if one slips through, without hiding where it came from (chained).
        text = self.redactor.text(f"{type(error).__name__}: {error}")
        if issubclass(self.payload_error, ProviderError):
            return ProviderError(
                f"could not read the provider's answer ({text})", provider=self.provider
            )
        return self.payload_error(f"{self.provider}: could not read the payload ({text})")

    def unreadable(self, error: PayloadError) -> PaymuxError:
        """The public error for a payload a flow could not read: the one place plugins' reader
        errors become ``ProviderError`` (an API answer) or ``WebhookParseError`` (a webhook)."""
        text = self.redactor.text(error.message)
        if issubclass(self.payload_error, ProviderError):
            return unreadable_answer(error, self.provider, self.last_status, text=text)
        return self.payload_error(f"{self.provider}: unreadable payload: {text}")


def _name_of(flow: Flow[T]) -> str:
    # A provider's flow is its generator method: its name is the operation (list_charges, ...).
    name = getattr(flow, "__name__", "")
    return name if isinstance(name, str) and name and not name.startswith("_") else "request"


def _unanswered(request: httpx.Request) -> httpx.Response:
    """What a best-effort request gets when the network gave up on it: 599, no HTTP answer."""
    return httpx.Response(599, request=request)


def run(
    flow: Flow[T],
    client: httpx.Client,
    *,
    provider: str,
    redactor: Redactor,
    policy: RetryPolicy,
    payload_error: type[PaymuxError] = ProviderError,
    operation: str | None = None,
    reference: str | None = None,
    request_id_of: RequestIdOf | None = None,
) -> T:
    """Run ``flow`` to completion on a sync client.

    ``operation`` and ``reference`` (the gateway call, the merchant's reference) label its logs and
    spans; ``request_id_of`` reads the provider's request id from an answer (a plugin's hook);
    ``payload_error`` is raised when the flow cannot read an answer (``WebhookParseError`` for a
    callback, a ``ProviderError`` for the provider's own answers).
    """
    ctx = _Context(
        provider,
        redactor,
        policy,
        payload_error,
        operation or _name_of(flow),
        reference,
        request_id_of,
    )

    def send(request: httpx.Request) -> httpx.Response:
        started = ctx.before(request)
        try:
            response = client.send(request)
        except BaseException as error:
            ctx.failed(request, error, started)
            raise
        ctx.after(request, response, started)
        return response

    def send_with_retries(request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        outcome: httpx.Response | Exception
        try:
            outcome = send(request)
        except Exception as error:
            outcome = error
        replay = _first_attempt(ctx.policy, outcome, started)
        if isinstance(replay, httpx.Response):
            return replay
        from tenacity import Retrying

        retrying = Retrying(**ctx.policy.tenacity_kwargs(), before=replay.before)  # type: ignore[arg-type]

        def attempt(request: httpx.Request) -> httpx.Response:
            if replay.outcome is not None:
                return replay.first()
            try:
                response = send(request)
            except Exception as error:
                replay.settled(error)
                raise
            replay.settled(response)
            return response

        return retrying(attempt, request)

    try:
        request = next(flow)
        while True:
            try:
                response = send_with_retries(request)
            except httpx.TransportError as error:
                if not request.extensions.get(BEST_EFFORT):
                    raise ctx.transport_error(request, error) from None
                response = _unanswered(request)
            request = flow.send(response)
    except StopIteration as stop:
        ctx.finished(stop.value, None)
        return stop.value  # type: ignore[no-any-return]
    except PaymuxError as error:
        ctx.finished(None, error)
        raise
    except (PayloadError, KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
        bug = ctx.flow_bug(error)
        ctx.finished(None, bug)
        raise bug from error
    except BaseException as error:
        ctx.finished(None, error)
        raise
    finally:
        flow.close()


async def arun(
    flow: Flow[T],
    client: httpx.AsyncClient,
    *,
    provider: str,
    redactor: Redactor,
    policy: RetryPolicy,
    payload_error: type[PaymuxError] = ProviderError,
    operation: str | None = None,
    reference: str | None = None,
    request_id_of: RequestIdOf | None = None,
) -> T:
    """Run ``flow`` to completion on an async client (same semantics as :func:`run`)."""
    ctx = _Context(
        provider,
        redactor,
        policy,
        payload_error,
        operation or _name_of(flow),
        reference,
        request_id_of,
    )

    async def send(request: httpx.Request) -> httpx.Response:
        started = ctx.before(request)
        try:
            response = await client.send(request)
        except BaseException as error:
            ctx.failed(request, error, started)
            raise
        ctx.after(request, response, started)
        return response

    async def send_with_retries(request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        outcome: httpx.Response | Exception
        try:
            outcome = await send(request)
        except Exception as error:
            outcome = error
        replay = _first_attempt(ctx.policy, outcome, started)
        if isinstance(replay, httpx.Response):
            return replay
        from tenacity import AsyncRetrying

        retrying = AsyncRetrying(**ctx.policy.tenacity_kwargs(), before=replay.before)  # type: ignore[arg-type]

        async def attempt(request: httpx.Request) -> httpx.Response:
            if replay.outcome is not None:
                return replay.first()
            try:
                response = await send(request)
            except Exception as error:
                replay.settled(error)
                raise
            replay.settled(response)
            return response

        result: httpx.Response = await retrying(attempt, request)
        return result

    try:
        request = next(flow)
        while True:
            try:
                response = await send_with_retries(request)
            except httpx.TransportError as error:
                if not request.extensions.get(BEST_EFFORT):
                    raise ctx.transport_error(request, error) from None
                response = _unanswered(request)
            request = flow.send(response)
    except StopIteration as stop:
        ctx.finished(stop.value, None)
        return stop.value  # type: ignore[no-any-return]
    except PaymuxError as error:
        ctx.finished(None, error)
        raise
    except (PayloadError, KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
        bug = ctx.flow_bug(error)
        ctx.finished(None, bug)
        raise bug from error
    except BaseException as error:
        ctx.finished(None, error)
        raise
    finally:
        flow.close()
