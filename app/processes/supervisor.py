"""Start, track and stop the platform's processes.

Each service runs in its own session (process group) with its output in data_dir/logs. A state
file in data_dir/run records PID and process start time, so `down` stops exactly what `up`
started and never a stranger that reused a PID. `down` leaves a stop request beside it before
stopping anything, so that an `up` watching in the foreground reads the services' exits as the
stop it is, not as a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from sentimentops.app.processes.probes import port_in_use, wait_until
from sentimentops.app.processes.specs import ServiceSpec

if TYPE_CHECKING:  # the settings class is slow to import; `--help` does not need it
    from sentimentops.core.settings import Settings

STOP_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class RunningService:
    name: str
    pid: int
    create_time: float
    url: str
    log: str


class SupervisorError(Exception):
    pass


def state_file(settings: Settings) -> Path:
    return settings.run_dir / "platform.json"


def read_state(settings: Settings) -> list[RunningService]:
    path = state_file(settings)
    if not path.exists():
        return []
    raw = json.loads(path.read_text())
    return [RunningService(**item) for item in raw["services"]]


def _write_state(settings: Settings, services: list[RunningService]) -> None:
    path = state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"services": [asdict(s) for s in services]}, indent=2))
    tmp.replace(path)


def is_alive(service: RunningService) -> bool:
    try:
        process = psutil.Process(service.pid)
        # Start times match to the clock tick; a reused PID has a later start time.
        return (
            abs(process.create_time() - service.create_time) < 1.0
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False


def stop_request_file(settings: Settings) -> Path:
    return settings.run_dir / "stop-requested"


def request_stop(settings: Settings) -> None:
    """Tell a foreground `up` that the exits about to happen are asked for (by `down`)."""
    path = stop_request_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")


def stop_was_requested(settings: Settings) -> bool:
    return stop_request_file(settings).exists()


def clear_stop_request(settings: Settings) -> None:
    stop_request_file(settings).unlink(missing_ok=True)


def check_not_running(settings: Settings) -> None:
    if any(is_alive(s) for s in read_state(settings)):
        raise SupervisorError(
            "the platform is already running from this data directory; "
            "`sentimentops status` shows it, `sentimentops down` stops it"
        )


def check_ports(specs: list[ServiceSpec]) -> None:
    busy = [(spec.name, port) for spec in specs for port in spec.ports if port_in_use(port)]
    if busy:
        detail = ", ".join(f"{name} needs {port}" for name, port in busy)
        raise SupervisorError(
            f"ports already in use ({detail}). Stop what holds them, run `sentimentops down`, "
            "or choose other ports (--api-port, --temporal-port, --temporal-ui-port, --opa-port "
            "or the SENTIMENTOPS_*_PORT variables)."
        )


def start_service(settings: Settings, spec: ServiceSpec) -> RunningService:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.log_dir / f"{spec.name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
            spec.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **spec.env},
            start_new_session=True,
        )
    return RunningService(
        name=spec.name,
        pid=process.pid,
        create_time=psutil.Process(process.pid).create_time(),
        url=spec.url,
        log=str(log_path),
    )


def wait_ready(spec: ServiceSpec, service: RunningService) -> None:
    def ready_or_dead() -> bool:
        return not is_alive(service) or spec.probe()

    wait_until(ready_or_dead, timeout=spec.ready_timeout)
    if not is_alive(service):
        raise SupervisorError(f"{spec.name} exited during start-up; see {service.log}")
    if not spec.probe():
        raise SupervisorError(
            f"{spec.name} did not become ready within {spec.ready_timeout:.0f}s; see {service.log}"
        )


def start_all(
    settings: Settings,
    specs: list[ServiceSpec],
    *,
    on_start: Callable[[ServiceSpec], None] = lambda _spec: None,
) -> list[RunningService]:
    """Start services in order, each ready before the next; on failure stop what started."""
    # `up` runs these checks before it changes anything; again here, as time has passed.
    check_not_running(settings)
    check_ports(specs)
    started: list[RunningService] = []
    try:
        for spec in specs:
            on_start(spec)
            service = start_service(settings, spec)
            started.append(service)
            _write_state(settings, started)
            wait_ready(spec, service)
    except BaseException:
        stop_all(settings, started)
        raise
    return started


def _stop_one(service: RunningService) -> None:
    if not is_alive(service):
        return
    # Each service leads its own process group: signal the group so that children go too.
    try:
        os.killpg(service.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and is_alive(service):
        time.sleep(0.1)
    if is_alive(service):
        # It may exit between the check and the kill (a foreground `up` and `down` can both
        # be stopping it).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGKILL)
    with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
        psutil.Process(service.pid).wait(timeout=5)


def stop_all(settings: Settings, services: list[RunningService] | None = None) -> list[str]:
    """Stop in reverse start order; returns the names of services that were running."""
    services = read_state(settings) if services is None else services
    stopped = []
    for service in reversed(services):
        if is_alive(service):
            stopped.append(service.name)
        _stop_one(service)
    state_file(settings).unlink(missing_ok=True)
    return stopped


def first_dead(services: list[RunningService]) -> RunningService | None:
    return next((s for s in services if not is_alive(s)), None)


def watch(
    settings: Settings, services: list[RunningService], *, interval: float = 1.0
) -> RunningService | None:
    """Wait until a stop is requested (None) or a service dies (that service). A death after a
    stop request is the stop itself: `down` stops the services one by one."""
    while True:
        if stop_was_requested(settings):
            return None
        dead = first_dead(services)
        if dead is not None:
            return None if stop_was_requested(settings) else dead
        time.sleep(interval)


def wait_exited(services: list[RunningService]) -> bool:
    """Wait (as long as stopping them all could take) until none of `services` runs."""
    timeout = STOP_GRACE_SECONDS * len(services) + 10.0
    return wait_until(lambda: first_alive(services) is None, timeout=timeout)


def first_alive(services: list[RunningService]) -> RunningService | None:
    return next((s for s in services if is_alive(s)), None)
