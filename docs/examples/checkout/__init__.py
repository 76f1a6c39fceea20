"""An example checkout on paymux: a Starlette shop, run against the sandbox's emulators.

``python -m docs.examples.checkout`` (from the repository root) starts it; ``docs/example-checkout.md``
walks through the code.
"""

from __future__ import annotations

from .app import OPTIONS, create_app
from .shop import RunningShop, running_shop

__all__ = ["OPTIONS", "RunningShop", "create_app", "running_shop"]
