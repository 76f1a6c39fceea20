from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_dist import installed


@pytest.fixture
def fakepay_installed(tmp_path: Path) -> Iterator[None]:
    with installed(tmp_path / "site", {"fakepay": "fakepay:FakePay"}):
        yield
