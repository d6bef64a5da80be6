"""Readiness probes: small, bounded network checks."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

Probe = Callable[[], bool]


def http_ok(url: str, *, timeout: float = 2.0) -> Probe:
    # Imported here: every CLI command imports this module (through `status`), few probe HTTP.
    import httpx

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def tcp_open(host: str, port: int, *, timeout: float = 1.0) -> Probe:
    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            return False

    return probe


def all_of(*probes: Probe) -> Probe:
    return lambda: all(p() for p in probes)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    return tcp_open(host, port, timeout=0.3)()


def wait_until(probe: Probe, *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(interval)
    return probe()
