"""Finding provider plugins: entry points in the ``paymux.providers`` group, loaded by stevedore."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from .errors import ConfigurationError
from .provider import PLUGIN_API_VERSION, Provider

PROVIDERS_GROUP = "paymux.providers"
SANDBOXES_GROUP = "paymux.sandboxes"

log = logging.getLogger("paymux.plugins")


@dataclass(frozen=True)
class PluginReport:
    """What discovery found in one entry-point group."""

    group: str
    loaded: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Plugin name -> why it could not be used (import error, wrong type, API version)."""


_lock = threading.Lock()
_reports: dict[str, PluginReport] = {}


def _installed_names(group: str) -> set[str]:
    return {ep.name for ep in entry_points(group=group)}


def _scan(group: str) -> PluginReport:
    from stevedore import ExtensionManager
    from stevedore.extension import Extension

    report = PluginReport(group)
    # stevedore also caches per process and never refreshes; a new scan must start clean.
    ExtensionManager.ENTRY_POINT_CACHE.pop(group, None)

    def failed(_manager: Any, entrypoint: Any, error: BaseException) -> None:
        report.failed[entrypoint.name] = f"{type(error).__name__}: {error}"
        log.warning("paymux plugin %r in %s could not be loaded: %s", entrypoint.name, group, error)

    manager = ExtensionManager(group, invoke_on_load=False, on_load_failure_callback=failed)
    # stevedore's on-disk cache keys on mtimes at ~2 minute resolution, so a plugin installed or
    # removed moments ago can be missing (or linger). The metadata scan is cheap and authoritative.
    installed = _installed_names(group)
    if set(manager.names()) | set(report.failed) != installed:
        log.info("stevedore's entry-point cache for %s is stale; reading metadata directly", group)
        report.failed.clear()
        extensions = []
        for ep in entry_points(group=group):
            try:
                extensions.append(Extension(ep.name, ep, ep.load(), None))
            except Exception as error:  # one broken plugin must not hide the others
                failed(None, ep, error)
        manager = ExtensionManager.make_test_instance(extensions, namespace=group)

    for extension in manager.extensions:
        report.loaded[extension.name] = extension.plugin
    return report


def discover(group: str = PROVIDERS_GROUP, *, refresh: bool = False) -> PluginReport:
    """Load every plugin of ``group`` once per process (``refresh=True`` scans again)."""
    with _lock:
        if refresh or group not in _reports:
            report = _scan(group)
            if group == PROVIDERS_GROUP:
                _check_providers(report)
            _reports[group] = report
        return _reports[group]


def _check_providers(report: PluginReport) -> None:
    for name, plugin in list(report.loaded.items()):
        why = None
        if not (isinstance(plugin, type) and issubclass(plugin, Provider)):
            why = f"{plugin!r} is not a paymux.provider.Provider subclass"
        elif getattr(plugin, "plugin_api_version", None) != PLUGIN_API_VERSION:
            why = (
                f"built for plugin API {plugin.plugin_api_version}, this paymux speaks"
                f" {PLUGIN_API_VERSION}: upgrade the plugin or paymux"
            )
        if why:
            del report.loaded[name]
            report.failed[name] = why
            log.warning("paymux plugin %r ignored: %s", name, why)


def available_providers() -> list[str]:
    """Names of the installed provider plugins that load, sorted."""
    return sorted(discover().loaded)


def provider_class(name: str) -> type[Provider[Any]]:
    """The plugin class registered as ``name``; a clear error when absent or broken."""
    report = discover()
    if name in report.loaded:
        return report.loaded[name]  # type: ignore[no-any-return]
    if name in report.failed:
        raise ConfigurationError(
            f"provider plugin {name!r} is installed but broken: {report.failed[name]}"
        )
    available = ", ".join(sorted(report.loaded)) or "none installed"
    raise ConfigurationError(
        f"unknown provider {name!r} (available: {available}); install its plugin, e.g."
        f" pip install paymux-{name}"
    )
