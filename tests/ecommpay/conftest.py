"""ECommPay tests: make the shared helper module ``ecommpay_support`` importable.

pytest imports test modules without putting their folder on ``sys.path``; the helper module's
name is provider-prefixed so it cannot clash with another provider's helpers.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
