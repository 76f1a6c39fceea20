"""MkDocs hook: pages that are generated from the code, so they cannot drift from it.

Two markers are replaced when a page is rendered:

``<!-- paymux:charge-statuses -->``
    The neutral ``ChargeStatus`` values with their ``is_final`` / ``is_paid`` flags.
``<!-- paymux:status-tables -->``
    Every installed provider plugin's mapping tables (provider value -> neutral value).

How a plugin's tables are found (documented in ``plugins.md``):

1. If the provider class has ``status_tables()`` (a classmethod or staticmethod returning
   ``{title: [(provider value, neutral value, note), ...]}``), that is used as it is.
2. Otherwise every module of the plugin's package is imported and each module-level mapping whose
   keys are strings and whose values are all ``ChargeStatus``, ``RefundStatus`` or ``FailureReason``
   members is shown, under its dotted name. Module-level constants named ``UNKNOWN_*`` holding one
   of those members are listed as the fallback for values no table names.

``<!-- paymux:capabilities -->``
    Every capability of the sandbox's accounts of every installed plugin, with the rules the
    router and the plugin's ``create_charge`` both read from it.

Either way, a provider class with ``status_conditions()`` (a classmethod returning
``[(provider value, condition, neutral value), ...]``) adds the mappings that depend on more than
one value (a pending charge with a page for the customer requires action; refunds of a paid
charge). Plugins compute those rows with their own translation code.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable, Mapping
from enum import Enum
from types import ModuleType
from typing import Any

log = logging.getLogger("mkdocs.hooks.paymux")

CHARGE_STATUSES_MARKER = "<!-- paymux:charge-statuses -->"
STATUS_TABLES_MARKER = "<!-- paymux:status-tables -->"
CAPABILITIES_MARKER = "<!-- paymux:capabilities -->"

Row = tuple[str, str, str]


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if CHARGE_STATUSES_MARKER in markdown:
        markdown = markdown.replace(CHARGE_STATUSES_MARKER, charge_statuses())
    if STATUS_TABLES_MARKER in markdown:
        markdown = markdown.replace(STATUS_TABLES_MARKER, status_tables())
    if CAPABILITIES_MARKER in markdown:
        markdown = markdown.replace(CAPABILITIES_MARKER, capability_table())
    return markdown


def capability_table() -> str:
    """The capabilities as the data says, for the sandbox's accounts (no network)."""
    from paymux import Gateway
    from paymux.sandbox.settings import offline_settings

    gw = Gateway(providers=offline_settings())
    rows = []
    for c in gw.capabilities():
        amounts = "<br>".join(
            str(r) + (f" in {', '.join(r.countries)}" if r.countries else "") for r in c.amounts
        )
        rows.append(
            (
                f"`{c.provider}`",
                f"`{c.method}`",
                ", ".join(c.countries) if c.countries else "any",
                amounts,
                ", ".join(f"`{name}`" for name in c.customer_fields) or "-",
                str(c.return_urls),
                c.refunds.value,
            )
        )
    header = ("account", "method", "countries", "amounts", "customer", "return pages", "refunds")
    return _table(header, rows)


# -- the neutral vocabulary --------------------------------------------------------------------


def charge_statuses() -> str:
    from paymux import ChargeStatus

    rows = [
        (f"`{s.value}`", "yes" if s.is_final else "no", "yes" if s.is_paid else "no")
        for s in ChargeStatus
    ]
    return _table(("status", "is_final", "is_paid"), rows)


# -- the plugins' tables -----------------------------------------------------------------------


def status_tables() -> str:
    from paymux.plugins import discover

    report = discover(refresh=True)
    for name, why in report.failed.items():
        log.warning("provider plugin %r cannot be loaded, so its tables are missing: %s", name, why)
    if not report.loaded:
        log.warning("no provider plugins are installed: the status-mapping page is empty")
        return "*No provider plugins were installed when these pages were built.*\n"
    out: list[str] = []
    for name, provider_class in sorted(report.loaded.items()):
        if getattr(provider_class, "example", False):
            continue  # the plugin template (docs/plugins.md): no provider's tables
        out.append(f"## `{name}`\n")
        out.append(f"From `{provider_class.__module__}.{provider_class.__qualname__}`.\n")
        tables = _declared_tables(provider_class)
        fallbacks: list[Row] = []
        if tables is None:
            tables, fallbacks = _discovered_tables(provider_class)
        conditions = _conditions(provider_class)
        if not tables and not conditions:
            out.append("*This plugin exposes no mapping tables.*\n")
            continue
        for title, rows in tables.items():
            out.append(f"### {title}\n")
            out.append(_table(("provider value", "neutral value", "note"), _code_rows(rows)))
        if fallbacks:
            out.append("### Values no table names\n")
            out.append(_table(("constant", "neutral value", "note"), _code_rows(fallbacks)))
        if conditions:
            out.append("### When more than the value decides\n")
            out.append(
                "Each row is worked out when the site is built, by running a minimal answer "
                "through the plugin's own translation.\n"
            )
            shown = [(f"`{value}`", when, f"`{neutral}`") for value, when, neutral in conditions]
            out.append(_table(("provider value", "when", "neutral value"), shown))
    return "\n".join(out)


def _conditions(provider_class: type) -> list[Row]:
    """``status_conditions()`` of the provider class: (provider value, condition, neutral value)."""
    declared = getattr(provider_class, "status_conditions", None)
    if declared is None:
        return []
    return [(str(a), str(b), str(c)) for a, b, c in declared()]


def _declared_tables(provider_class: type) -> dict[str, list[Row]] | None:
    declared = getattr(provider_class, "status_tables", None)
    if declared is None:
        return None
    tables = declared()
    return {
        str(title): [(str(a), str(b), str(c)) for a, b, c in rows] for title, rows in tables.items()
    }


def _neutral_enums() -> tuple[type[Enum], ...]:
    from paymux import ChargeStatus, FailureReason, RefundStatus

    return (ChargeStatus, RefundStatus, FailureReason)


def _modules(package_name: str) -> Iterable[ModuleType]:
    package = importlib.import_module(package_name)
    yield package
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), package_name + "."):
        yield importlib.import_module(info.name)


def _discovered_tables(provider_class: type) -> tuple[dict[str, list[Row]], list[Row]]:
    enums = _neutral_enums()
    top = provider_class.__module__.split(".")[0]
    # The same dict is often re-exported by the package; keep the name in the deepest module.
    found: dict[int, tuple[str, int, Mapping[str, Enum]]] = {}
    fallbacks: dict[str, Row] = {}
    for module in _modules(top):
        for index, (attr, value) in enumerate(vars(module).items()):
            if attr.startswith("_"):
                continue
            where = f"{module.__name__}.{attr}"
            if isinstance(value, Enum) and isinstance(value, enums) and attr.startswith("UNKNOWN_"):
                fallbacks.setdefault(attr, (where, value.value, _flags(value)))
            elif _is_table(value, enums):
                previous = found.get(id(value))
                if previous is None or where.count(".") > previous[0].count("."):
                    found[id(value)] = (where, index, value)
    tables: dict[str, list[Row]] = {}
    ordered = sorted(found.values(), key=lambda item: (item[0].rsplit(".", 1)[0], item[1]))
    for where, _index, table in ordered:
        kind = type(next(iter(table.values()))).__name__
        tables[f"`{where}` → `{kind}`"] = [(k, v.value, _flags(v)) for k, v in table.items()]
    return tables, list(fallbacks.values())


def _is_table(value: Any, enums: tuple[type[Enum], ...]) -> bool:
    if not isinstance(value, Mapping) or not value:
        return False
    kinds = {type(v) for v in value.values()}
    return len(kinds) == 1 and kinds <= set(enums) and all(isinstance(k, str) for k in value)


def _flags(value: Enum) -> str:
    flags = [name for name in ("final", "paid") if getattr(value, f"is_{name}", False)]
    return ", ".join(flags)


# -- markdown ----------------------------------------------------------------------------------


def _code_rows(rows: Iterable[Row]) -> list[tuple[str, ...]]:
    return [(f"`{a}`", f"`{b}`", c) for a, b, c in rows]


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    lines = [line(header), line("---" for _ in header)]
    lines += [line(row) for row in rows]
    return "\n".join(lines) + "\n"
