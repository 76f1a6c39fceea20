"""OpenTelemetry stays optional: never imported by ``import paymux``, never needed to take payments.

Each check runs in a fresh interpreter, where ``sys.modules`` tells what was imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# A provider call over a mock transport, then the otel modules the interpreter holds.
_CALL = """
import httpx, json, sys
from fakepay import FakePay, FakePaySettings
from paymux import ChargeRequest, Customer, Gateway, Money
answer = {"id": "ch_1", "ref": "o", "amount": 5000, "currency": "KRW", "state": "qr"}
client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)))
gw = Gateway(providers={"fakepay": FakePay(FakePaySettings(api_key="k_test_x"))}, http_client=client)
request = ChargeRequest(reference="o", amount=Money(5000, "KRW"), method="kakaopay", country="KR",
                        customer=Customer(id="c1", ip_address="192.0.2.10"))
status = gw.create_charge(request).status.value
"""

_BLOCKER = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"{name} is not installed here")
        return None
sys.meta_path.insert(0, Blocker())
"""

_REPORT = """
print(json.dumps({"status": status,
                  "otel": sorted(m for m in sys.modules if m.startswith("opentelemetry"))}))
"""


def _run(code: str) -> dict[str, object]:
    support = "import sys; sys.path.insert(0, 'tests/support')\n"
    out = subprocess.run(
        [sys.executable, "-c", support + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_import_paymux_imports_no_opentelemetry() -> None:
    result = _run(
        """
        import json, sys
        import paymux, paymux.gateway, paymux.runner, paymux.telemetry, paymux.provider
        print(json.dumps({"otel": [m for m in sys.modules if m.startswith("opentelemetry")]}))
        """
    )
    assert result["otel"] == []


def test_payments_work_and_nothing_is_imported_without_the_extra() -> None:
    result = _run(_BLOCKER + _CALL + _REPORT)
    assert result == {"status": "requires_action", "otel": []}


def test_the_extra_is_imported_on_the_first_provider_call() -> None:
    result = _run(_CALL + _REPORT)
    assert result["status"] == "requires_action"
    assert "opentelemetry.trace" in result["otel"]  # type: ignore[operator]


def test_the_global_providers_receive_spans_and_metrics() -> None:
    # Without configure(): an application that installs its SDK globally, even after paymux's
    # first call (the API handed out proxies then), gets the spans and metrics.
    result = _run(
        _CALL
        + """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
gw.create_charge(request)
names = sorted(s.name for s in spans.get_finished_spans())
data = reader.get_metrics_data()
found = sorted({m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics})
print(json.dumps({"spans": names, "metrics": found}))
"""
    )
    assert result["spans"] == ["GET", "POST", "paymux create_charge"]
    assert result["metrics"] == [
        "paymux.provider.request.duration",
        "paymux.provider.requests",
    ]
