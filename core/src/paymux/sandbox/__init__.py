"""The embedded sandbox: provider emulators, a simulated customer and fault injection on loopback.

Each provider plugin ships an :class:`Emulator` under the ``paymux.sandboxes`` entry-point group;
:class:`Sandbox` serves them together (``paymux sandbox``) and ``paymux demo`` runs on it.
Needs the ``sandbox`` extra (Starlette, uvicorn).
"""

from __future__ import annotations

from .emulator import Emulator, PendingPayment
from .faults import FaultPlan
from .hub import SandboxHub
from .server import Sandbox

__all__ = ["Emulator", "FaultPlan", "PendingPayment", "Sandbox", "SandboxHub"]
