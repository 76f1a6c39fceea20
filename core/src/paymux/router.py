"""Chooses a provider for a charge from declared capabilities and the user's rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .capability_checks import admission, charge_refusal
from .errors import ConfigurationError, InvalidRequest, NoRouteError
from .models import Capability, ChargeRequest, Refusal, RouteDecision, RouteRule
from .provider import Provider

_REQUEST_DETAILS = ("customer.", "return_urls")
"""Fields of a refusal that a complete request fixes (the payment itself is admitted)."""


class Router:
    """Rules are tried in order; the first that matches fixes which providers are tried, and in
    what order. Without a matching rule every provider is tried in configuration order. Among the
    providers tried, the first whose capabilities admit the request wins."""

    def __init__(
        self, providers: Mapping[str, Provider[Any]], rules: Sequence[RouteRule] = ()
    ) -> None:
        self._providers = providers
        self.rules = tuple(rules)
        for index, rule in enumerate(self.rules, 1):
            unknown = [name for name in rule.providers if name not in providers]
            if unknown:
                raise ConfigurationError(
                    f"route rule #{index} ({rule}) names unconfigured provider(s) {', '.join(unknown)};"
                    f" configured: {', '.join(providers) or 'none'}"
                )

    def choose(self, request: ChargeRequest) -> str:
        """The provider :meth:`decide` would choose, without building the explanation.

        The chosen provider keeps the check's answer (:func:`admission`), so its flow does
        not check the same request again."""
        rule = next((r for r in self.rules if r.matches(request)), None)
        providers = self._providers
        for name in rule.providers if rule else providers:
            if not isinstance(admission(providers[name], request), Refusal):
                return name
        # Raises NoRouteError with every reason, or InvalidRequest for a missing detail.
        return self.decide(request).provider

    def decide(self, request: ChargeRequest) -> RouteDecision:
        rule = next((r for r in self.rules if r.matches(request)), None)
        order = list(rule.providers) if rule else list(self._providers)
        rejected: dict[str, str] = {}
        if rule:
            for name in self._providers:
                if name not in rule.providers:
                    rejected[name] = f"not listed by {rule}"

        candidates: list[str] = []
        chosen: Capability | None = None
        incomplete: tuple[str, Refusal] | None = None
        for name in order:
            found = charge_refusal(self._providers[name].declared_capabilities(), request)
            if isinstance(found, Refusal):
                rejected[name] = found.reason
                if incomplete is None and found.field.startswith(_REQUEST_DETAILS):
                    incomplete = (name, found)
                continue
            if chosen is None:
                chosen = found
            candidates.append(name)

        if chosen is None:
            if incomplete is not None:
                # A provider takes this method, market and amount but for a detail the request
                # lacks: a mistake in the request, named by its field, not a routing question.
                name, refusal = incomplete
                others = "; ".join(f"{k}: {v}" for k, v in rejected.items() if k != name)
                raise InvalidRequest(
                    f"{name}: {refusal.reason}" + (f" (and {others})" if others else ""),
                    field=refusal.field,
                )
            raise NoRouteError(
                f"no provider can take {request.method} {request.amount} in {request.country}",
                rejected,
            )
        return RouteDecision(
            provider=candidates[0],
            capability=chosen,
            rule=str(rule) if rule else None,
            candidates=tuple(candidates),
            rejected={k: v for k, v in rejected.items() if k not in candidates},
        )
