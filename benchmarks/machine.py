"""What every benchmark records about the machine it ran on (figures are only comparable on a
similar machine at a similar load)."""

from __future__ import annotations

import os
import platform
from typing import Any


def describe(note: str = "", **extra: Any) -> dict[str, Any]:
    """Cores, platform, Python, host and the load when measured, plus the caller's `extra`."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "host": platform.node(),
        # Other jobs share the cores: a figure taken under load says so here.
        "load_average_1m": os.getloadavg()[0],
        **({"note": note} if note else {}),
        **extra,
    }
