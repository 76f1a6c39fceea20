"""Chooses a provider for a charge from declared capabilities and the user's rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigurationError, NoRouteError
from .models import ChargeRequest, RouteDecision, RouteRule
from .provider import Provider


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
        """The provider :meth:`decide` would choose, without building the explanation."""
        rule = next((r for r in self.rules if r.matches(request)), None)
        for name in rule.providers if rule else self._providers:
            if self._why_not(name, request) is None:
                return name
        return self.decide(request).provider  # raises NoRouteError with every reason

    def decide(self, request: ChargeRequest) -> RouteDecision:
        rule = next((r for r in self.rules if r.matches(request)), None)
        order = list(rule.providers) if rule else list(self._providers)
        rejected: dict[str, str] = {}
        if rule:
            for name in self._providers:
                if name not in rule.providers:
                    rejected[name] = f"not listed by {rule}"

        candidates: list[str] = []
        chosen_capability = None
        for name in order:
            reason = self._why_not(name, request)
            if reason is None:
                if not candidates:
                    chosen_capability = self._providers[name].capability_for(request.method)
                candidates.append(name)
            else:
                rejected[name] = reason

        if not candidates or chosen_capability is None:
            raise NoRouteError(
                f"no provider can take {request.method} {request.amount} in {request.country}",
                rejected,
            )
        return RouteDecision(
            provider=candidates[0],
            capability=chosen_capability,
            rule=str(rule) if rule else None,
            candidates=tuple(candidates),
            rejected={k: v for k, v in rejected.items() if k not in candidates},
        )

    def _why_not(self, name: str, request: ChargeRequest) -> str | None:
        capabilities = [
            c for c in self._providers[name].declared_capabilities() if c.method == request.method
        ]
        if not capabilities:
            offered = sorted({c.method for c in self._providers[name].declared_capabilities()})
            return f"does not offer method {request.method!r} (offers {', '.join(offered) or 'nothing'})"
        reasons = [c.why_not(request) for c in capabilities]
        if any(r is None for r in reasons):
            return None
        return "; ".join(r for r in reasons if r)
