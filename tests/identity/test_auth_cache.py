"""The principal cache (identity/cache.py): hits read nothing from the database; revocations,
disables and role changes take effect on the next request of the changing process, in another
API process at once through Redis pub/sub, and within the TTL without Redis; a token is never
served past its `exp`; an API key's last use is still written while hits answer from memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.orm import Session, sessionmaker

from sentimentops.app.api import create_app
from sentimentops.app.processes.probes import http_ok, wait_until
from sentimentops.core import db
from sentimentops.core.settings import Settings
from sentimentops.core.vocabulary import PrincipalKind, Role
from sentimentops.identity import service, tokens
from sentimentops.identity.authn import Authenticated
from sentimentops.identity.cache import CHANNEL, AuthCache, broadcast
from sentimentops.identity.keys import as_utc, utcnow
from sentimentops.identity.models import ApiKey, ServiceAccount, Tenant
from sentimentops.identity.principal import AuthMethod, Principal
from tests import services
from tests.apps import fastapi_app
from tests.identity.conftest import Account, Factory, make_settings
from tests.services import free_port

WHOAMI = "/api/v1/auth/whoami"
BOTH_DATABASES = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)
# Long enough that nothing in a test can be explained by entries expiring.
LONG_TTL = 600.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def counting_queries(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs while the block runs."""
    engine: Engine = app.state.sessions.kw["bind"]
    statements: list[str] = []

    def record(*args: Any) -> None:  # Any: SQLAlchemy's event signature, six positionals
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _api_key(sessions: sessionmaker[Session], account: Account) -> tuple[str, str]:
    """A new API key of `account`: (its id, the secret)."""
    with db.transaction(sessions) as session:
        row = session.get(ServiceAccount, account.client_id)
        assert row is not None
        created = service.create_api_key(
            session, actor="test", tenant=account.tenant, account=row, name="k"
        )
        return created.key.id, created.secret


def _who(client: TestClient, credential: str) -> Answered:
    return client.get(WHOAMI, headers={"Authorization": f"Bearer {credential}"})


# Through the API, in one process ----------------------------------------------------------------


@BOTH_DATABASES
def test_a_cached_principal_is_served_without_database_reads(
    client: TestClient, factory: Factory
) -> None:
    svc = factory.account("acme", "svc", {Role.ANALYST})
    _, secret = _api_key(factory.sessions, svc)
    app = fastapi_app(client)
    for credential in (secret, factory.token(svc)):
        with counting_queries(app) as first:
            answer = _who(client, credential)
        assert answer.status_code == 200, answer.text
        assert first, "the first request must read the database"
        with counting_queries(app) as second:
            again = _who(client, credential)
        assert again.json() == answer.json()
        assert second == []


class Answered(Protocol):
    """What these tests read of a test client's response (httpx's or httpx2's class)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


Maker = Callable[[TestClient, dict[str, str], dict[str, str], Account, str], Answered]


@dataclass(frozen=True)
class Change:
    name: str
    # Makes the change through the API: (client, tenant admin, platform admin, victim, key id).
    make: Maker
    # Then the victim's whoami with its API key and with its token: status, and roles if 200.
    key_status: int
    token_status: int
    roles: list[str] | None = None


CHANGES = [
    Change(
        "revoke the key",
        lambda c, admin, _root, _v, key_id: c.delete(f"/api/v1/api-keys/{key_id}", headers=admin),
        401,
        200,  # the account's token is another credential
        ["analyst"],
    ),
    Change(
        "disable the account",
        lambda c, admin, _root, v, _k: c.delete(
            f"/api/v1/service-accounts/{v.client_id}", headers=admin
        ),
        401,
        401,
    ),
    Change(
        "disable the tenant",
        lambda c, _admin, root, v, _k: c.patch(
            f"/api/v1/tenants/{v.tenant.id}", json={"disabled": True}, headers=root
        ),
        401,
        401,
    ),
    Change(
        "revoke a role",
        lambda c, admin, _root, v, _k: c.delete(
            f"/api/v1/service-accounts/{v.client_id}/roles/analyst", headers=admin
        ),
        200,
        200,
        [],
    ),
    Change(
        "grant a role",
        lambda c, admin, _root, v, _k: c.put(
            f"/api/v1/service-accounts/{v.client_id}/roles/approver", headers=admin
        ),
        200,
        200,
        ["analyst", "approver"],
    ),
]


@BOTH_DATABASES
@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
def test_a_change_takes_effect_on_the_next_request_of_this_process(
    client: TestClient, factory: Factory, change: Change
) -> None:
    victim = factory.account("acme", "victim", {Role.ANALYST})
    admin = factory.headers(factory.account("acme", "admin", {Role.TENANT_ADMIN}))
    root = factory.headers(factory.account("platform", "root", {Role.PLATFORM_ADMIN}))
    key_id, secret = _api_key(factory.sessions, victim)
    token = factory.token(victim)
    app = fastapi_app(client)
    for credential in (secret, token):
        assert _who(client, credential).json()["roles"] == ["analyst"]
        with counting_queries(app) as reads:
            assert _who(client, credential).status_code == 200
        assert reads == []  # cached: only an invalidation can change the next answer

    response = change.make(client, admin, root, victim, key_id)
    assert response.status_code in (200, 204), response.text

    for credential, status in ((secret, change.key_status), (token, change.token_status)):
        after = _who(client, credential)
        assert after.status_code == status, after.text
        if status == 200:
            assert after.json()["roles"] == change.roles


@BOTH_DATABASES
def test_a_new_rate_limit_applies_to_the_next_request(client: TestClient, factory: Factory) -> None:
    svc = factory.account("acme", "svc", {Role.ANALYST})
    root = factory.headers(factory.account("platform", "root", {Role.PLATFORM_ADMIN}))
    _, secret = _api_key(factory.sessions, svc)
    assert _who(client, secret).status_code == 200
    assert _who(client, secret).status_code == 200  # the tenant row is now cached
    patched = client.patch(
        f"/api/v1/tenants/{svc.tenant.id}",
        json={"rate_limit_per_second": 0.001, "rate_limit_burst": 1},
        headers=root,
    )
    assert patched.status_code == 200, patched.text
    assert _who(client, secret).status_code == 200  # the new bucket's one token
    assert _who(client, secret).status_code == 429


def test_a_token_is_never_served_past_its_exp(fresh_db_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        fresh_db_url, tmp_path, token_leeway_seconds=0, auth_cache_seconds=LONG_TTL
    )
    with TestClient(create_app(settings)) as client:
        app = fastapi_app(client)
        factory = Factory(app.state.sessions, client)
        svc = factory.account("acme", "svc", {Role.ANALYST})
        with db.transaction(factory.sessions) as session:
            token, _ = tokens.issue(
                session,
                settings=settings,
                subject=svc.client_id,
                tenant_id=svc.tenant.id,
                tenant=svc.tenant.slug,
                roles=["analyst"],
                kind=PrincipalKind.SERVICE.value,
                ttl_seconds=2,
            )
        assert _who(client, token).status_code == 200
        with counting_queries(app) as reads:
            assert _who(client, token).status_code == 200
        assert reads == []
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        time.sleep(max(0.0, exp - time.time()) + 0.05)
        assert _who(client, token).status_code == 401


def test_api_key_last_use_is_still_written_about_once_a_minute_on_hits(
    fresh_db_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    cache = AuthCache(ttl_seconds=LONG_TTL, touch_every=service.LAST_USED_RESOLUTION, clock=clock)
    settings = make_settings(fresh_db_url, tmp_path)
    with TestClient(create_app(settings, auth_cache=cache)) as client:
        app = fastapi_app(client)
        factory = Factory(app.state.sessions, client)
        svc = factory.account("acme", "svc", {Role.ANALYST})
        key_id, secret = _api_key(factory.sessions, svc)

        def last_used() -> datetime | None:
            with factory.sessions() as session:
                row = session.get(ApiKey, key_id)
                assert row is not None
                return as_utc(row.last_used_at) if row.last_used_at else None

        assert _who(client, secret).status_code == 200
        first = last_used()
        assert first is not None
        clock.now += 59
        with counting_queries(app) as reads:
            assert _who(client, secret).status_code == 200
        assert reads == []
        assert last_used() == first

        clock.now += 2  # past the minute: this hit writes, from memory otherwise
        with counting_queries(app) as reads:
            assert _who(client, secret).status_code == 200
        # SQLite opens its write transaction with a statement of its own (BEGIN IMMEDIATE).
        assert [r.split()[0] for r in reads if not r.startswith("BEGIN")] == ["UPDATE"]
        second = last_used()
        assert second is not None
        assert second > first
        with counting_queries(app) as reads:
            assert _who(client, secret).status_code == 200
        assert reads == []


def test_zero_seconds_turns_the_cache_off(fresh_db_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_db_url, tmp_path, auth_cache_seconds=0)
    with TestClient(create_app(settings)) as client:
        app = fastapi_app(client)
        factory = Factory(app.state.sessions, client)
        token = factory.token(factory.account("acme", "svc", {Role.ANALYST}))
        for _ in range(2):
            with counting_queries(app) as reads:
                assert _who(client, token).status_code == 200
            assert reads


# The cache itself ---------------------------------------------------------------------------------


def _authenticated(tenant_id: str, subject: str = "s") -> Authenticated:
    principal = Principal(
        tenant_id=tenant_id,
        tenant=tenant_id,
        subject=subject,
        name=subject,
        kind=PrincipalKind.SERVICE,
        roles=frozenset({Role.ANALYST}),
        method=AuthMethod.FIRST_PARTY,
    )
    return Authenticated(principal, Tenant(id=tenant_id, slug=tenant_id, disabled=False))


class Loads:
    """A `load` for AuthCache.lookup that counts its calls."""

    def __init__(self, who: Authenticated, during: Callable[[], None] = lambda: None) -> None:
        self.who = who
        self.during = during
        self.calls = 0

    def __call__(self) -> Authenticated:
        self.calls += 1
        self.during()
        return self.who


def _cache(clock: FakeClock | None = None, **kw: Any) -> AuthCache:
    # Any: AuthCache's keyword arguments, of several types.
    return AuthCache(
        ttl_seconds=kw.pop("ttl_seconds", 30.0),
        touch_every=timedelta(seconds=60),
        clock=clock or FakeClock(),
        **kw,
    )


def test_entries_expire_after_the_ttl_and_the_oldest_goes_first() -> None:
    clock = FakeClock()
    cache = _cache(clock, max_entries=2)
    a, b, c = (Loads(_authenticated("t", subject)) for subject in "abc")
    cache.lookup("cred-a", a)
    cache.lookup("cred-b", b)
    cache.lookup("cred-a", a)  # a is now the most recently used
    cache.lookup("cred-c", c)  # evicts b
    assert cache.size == 2
    cache.lookup("cred-a", a)
    cache.lookup("cred-b", b)
    assert (a.calls, b.calls, c.calls) == (1, 2, 1)
    clock.now += 30
    cache.lookup("cred-a", a)
    assert a.calls == 2


def test_a_drop_during_the_database_read_keeps_the_stale_answer_out() -> None:
    cache = _cache()
    # The read started before a change committed; the commit's drop happens meanwhile.
    racing = Loads(_authenticated("t1"), during=lambda: cache.drop("t1"))
    cache.lookup("cred", racing)
    settled = Loads(_authenticated("t1"))
    cache.lookup("cred", settled)
    assert settled.calls == 1  # nothing was stored by the racing read
    cache.lookup("cred", settled)
    assert settled.calls == 1


def test_dropping_a_tenant_keeps_the_others() -> None:
    cache = _cache()
    one, two = Loads(_authenticated("t1")), Loads(_authenticated("t2"))
    cache.lookup("one", one)
    cache.lookup("two", two)
    cache.drop("t1")
    cache.lookup("one", one)
    cache.lookup("two", two)
    assert (one.calls, two.calls) == (2, 1)
    cache.drop(None)
    assert cache.size == 0


def test_keys_are_digests_not_credentials() -> None:
    cache = _cache()
    cache.lookup("so_secret-credential", Loads(_authenticated("t")))
    assert all(
        isinstance(k, bytes) and len(k) == 32 and b"secret" not in k
        for k in cache._entries  # what is held is the point of this test
    )


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    return wait_until(condition, timeout=timeout, interval=0.01)


def test_redis_messages_drop_entries(redis_url: str, tmp_path: Path) -> None:
    cache = _cache(redis_url=redis_url)
    one, two = Loads(_authenticated("t1")), Loads(_authenticated("t2"))
    cache.lookup("one", one)  # not subscribed yet: nothing is stored
    assert cache.size == 0
    cache.start()
    try:
        cache.lookup("one", one)
        cache.lookup("two", two)
        assert cache.size == 2
        settings = make_settings("sqlite://", tmp_path, redis_url=redis_url)
        broadcast(settings, tenant_id="t1")
        assert _wait(lambda: cache.size == 1)
        cache.lookup("two", two)
        assert two.calls == 1
        # A message that cannot be read drops everything.
        assert _publish_raw(redis_url, b"\xff not json") == 1
        assert _wait(lambda: cache.size == 0)
    finally:
        cache.close()


def _publish_raw(url: str, payload: bytes) -> int:
    """Publish raw bytes on the invalidation channel; the number of subscribers reached."""
    with redis.Redis.from_url(url) as client:
        return int(client.publish(CHANNEL, payload))


def test_without_a_reachable_redis_nothing_is_served_from_memory() -> None:
    cache = _cache(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    cache.start()
    try:
        loads = Loads(_authenticated("t"))
        cache.lookup("cred", loads)
        cache.lookup("cred", loads)
        assert loads.calls == 2
    finally:
        cache.close()


def test_a_lost_subscription_forgets_everything_and_stops_serving_from_memory() -> None:
    url, stop = services.start_redis()  # its own server: this test stops it
    cache = _cache(redis_url=url)
    cache.start()
    try:
        loads = Loads(_authenticated("t"))
        cache.lookup("cred", loads)
        assert cache.size == 1
        stop()
        # Messages sent while the subscription is down would be lost: nothing stale is kept.
        assert _wait(lambda: cache.size == 0)
        cache.lookup("cred", loads)
        cache.lookup("cred", loads)
        assert loads.calls == 3
    finally:
        cache.close()


# A second API process ---------------------------------------------------------------------------


@contextmanager
def api_process(settings: Settings, data_dir: Path) -> Iterator[str]:
    """Another API process (`create_app` under uvicorn) over the same database (and Redis)."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENTOPS_")},
        "SENTIMENTOPS_DATA_DIR": str(data_dir),
        "SENTIMENTOPS_DATABASE_URL": settings.resolved_database_url,
        "SENTIMENTOPS_AUTH_CACHE_SECONDS": str(settings.auth_cache_seconds),
        "SENTIMENTOPS_LOG_LEVEL": "WARNING",
        **({"SENTIMENTOPS_REDIS_URL": settings.redis_url} if settings.redis_url else {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "api.log"
    process = subprocess.Popen(
        [
            *(sys.executable, "-P", "-m", "uvicorn", "--factory"),
            *("sentimentops.app.api:create_app", "--host", "127.0.0.1", "--port", str(port)),
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(http_ok(f"{base}/healthz"), timeout=90), log.read_text()[-4000:]
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _remote_who(base: str, credential: str) -> int:
    response = httpx.get(
        base + WHOAMI, headers={"Authorization": f"Bearer {credential}"}, timeout=10
    )
    return response.status_code


@pytest.mark.parametrize("fresh_db_url", ["postgresql"], indirect=True)
def test_with_redis_another_process_refuses_at_once(
    fresh_db_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        fresh_db_url, tmp_path / "a", redis_url=redis_url, auth_cache_seconds=LONG_TTL
    )
    with TestClient(create_app(settings)) as client:
        factory = Factory(fastapi_app(client).state.sessions, client)
        victim = factory.account("acme", "victim", {Role.ANALYST})
        admin = factory.headers(factory.account("acme", "admin", {Role.TENANT_ADMIN}))
        root = factory.headers(factory.account("platform", "root", {Role.PLATFORM_ADMIN}))
        key_id, secret = _api_key(factory.sessions, victim)
        token = factory.token(victim)
        with api_process(settings, tmp_path / "b") as other:
            assert _remote_who(other, secret) == 200
            assert _remote_who(other, token) == 200
            # Revoked behind every cache's back (no flow, no message): the other process still
            # answers from memory, so what follows is the message's doing, not a database read.
            engine = create_engine(fresh_db_url)
            with engine.begin() as conn:
                conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
            engine.dispose()
            assert _remote_who(other, secret) == 200

            revoked = client.delete(f"/api/v1/api-keys/{key_id}", headers=admin)
            assert revoked.status_code == 204
            assert _wait(lambda: _remote_who(other, secret) == 401), "not within 5 s"

            disabled = client.patch(
                f"/api/v1/tenants/{victim.tenant.id}", json={"disabled": True}, headers=root
            )
            assert disabled.status_code == 200
            assert _wait(lambda: _remote_who(other, token) == 401), "not within 5 s"


def test_without_redis_another_process_refuses_within_the_ttl(
    fresh_db_url: str, tmp_path: Path
) -> None:
    ttl = 3.0
    settings = make_settings(fresh_db_url, tmp_path / "a", auth_cache_seconds=ttl)
    with TestClient(create_app(settings)) as client:
        factory = Factory(fastapi_app(client).state.sessions, client)
        victim = factory.account("acme", "victim", {Role.ANALYST})
        admin = factory.headers(factory.account("acme", "admin", {Role.TENANT_ADMIN}))
        key_id, secret = _api_key(factory.sessions, victim)
        with api_process(settings, tmp_path / "b") as other:
            cached_at = time.monotonic()
            assert _remote_who(other, secret) == 200
            assert client.delete(f"/api/v1/api-keys/{key_id}", headers=admin).status_code == 204
            assert _who(client, secret).status_code == 401  # this process: at once
            assert _wait(lambda: _remote_who(other, secret) == 401, timeout=ttl + 2)
            assert time.monotonic() - cached_at <= ttl + 2
