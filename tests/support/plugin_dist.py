"""Registers test plugins through real entry-point metadata in a temporary folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paymux import plugins


@contextmanager
def installed(
    tmp: Path, entry_points: dict[str, str], dist: str = "paymux_fakepay"
) -> Iterator[None]:
    """Make ``entry_points`` ({name: "module:attr"}) visible in ``paymux.providers``."""
    info = tmp / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{plugins.PROVIDERS_GROUP}]\n{lines}")
    sys.path.insert(0, str(tmp))
    try:
        plugins.discover(refresh=True)
        yield
    finally:
        sys.path.remove(str(tmp))
        plugins.discover(refresh=True)
