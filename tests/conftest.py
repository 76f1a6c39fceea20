"""Shared test set-up.

Cassettes: ``cassettes/<provider>/<test module>/<test>.yaml``, replayed with record mode ``none``
(set in pyproject's addopts; never put ``record_mode`` in ``vcr_config``: it would override the
command line). Every cassette starts with a ``# source:`` comment naming where its responses come
from. Re-record with ``make record PROVIDER=<name>`` (real test credentials, scrubbed).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# stevedore keeps an entry-point cache on disk that can go stale within a ~2 minute mtime bucket;
# tests always start from an empty cache of their own.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="paymux-test-cache-")

_SECRET_JSON_FIELDS = re.compile(rb'("(?:signature|secret_key|card_number|cvv|cvc)"\s*:\s*)"[^"]*"')


def _scrub_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        return _SECRET_JSON_FIELDS.sub(rb'\1"REDACTED"', bytes(body))
    return body


def scrub_request(request: Any) -> Any:
    request.body = _scrub_body(request.body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in {"set-cookie", "signature", "omise-signature"}:
            del headers[name]
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": [("authorization", "REDACTED"), "cookie"],
        "filter_query_parameters": [("signature", "REDACTED")],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    module = Path(str(request.node.fspath))
    relative = module.relative_to(ROOT / "tests")
    provider = relative.parts[0] if len(relative.parts) > 1 else "core"
    return str(ROOT / "cassettes" / provider / module.stem)
