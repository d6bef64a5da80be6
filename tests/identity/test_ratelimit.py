"""Per-tenant token buckets: the same behaviour from both backends (the Redis one against a real
redis-server), and 429 with Retry-After through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentimentops.app.api import create_app
from sentimentops.core.vocabulary import Role
from sentimentops.identity.ratelimit import (
    InProcessRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from tests.apps import fastapi_app
from tests.identity.conftest import Factory, make_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_in_process_bucket_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    assert [limiter.acquire("t", rate=2.0, burst=3).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    refused = limiter.acquire("t", rate=2.0, burst=3)
    assert refused.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("t", rate=2.0, burst=3).allowed
    assert limiter.acquire("other", rate=2.0, burst=3).allowed  # buckets are per key


def test_redis_bucket_is_shared_and_refuses_with_a_wait(redis_url: str) -> None:
    key = f"t-{uuid.uuid4().hex}"
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
    try:
        # Two limiters (two API replicas) draw from one bucket.
        outcomes = [
            limiter.acquire(key, rate=0.5, burst=4).allowed
            for limiter in (first, second, first, second, first)
        ]
        assert outcomes == [True, True, True, True, False]
        refused = second.acquire(key, rate=0.5, burst=4)
        assert not refused.allowed
        assert 0 < refused.retry_after <= 2.0
    finally:
        first.close()
        second.close()


def test_unreachable_redis_fails_open() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")
    try:
        assert limiter.acquire("t", rate=1.0, burst=1).allowed
    finally:
        limiter.close()


@pytest.fixture(params=["in-process", "redis"])
def limited_client(
    request: pytest.FixtureRequest, fresh_db_url: str, tmp_path: Path
) -> Iterator[TestClient]:
    settings = make_settings(fresh_db_url, tmp_path, rate_limit_per_second=0.2, rate_limit_burst=3)
    limiter: RateLimiter | None = None
    if request.param == "redis":
        # A fresh namespace per test: the session's Redis is shared by every test.
        url = request.getfixturevalue("redis_url")
        limiter = RedisRateLimiter(url, namespace=f"test:{uuid.uuid4().hex}")
    with TestClient(create_app(settings, rate_limiter=limiter)) as c:
        yield c


def test_api_answers_429_with_retry_after_per_tenant(limited_client: TestClient) -> None:
    factory = Factory(fastapi_app(limited_client).state.sessions, limited_client)
    a = factory.account("tenant-a", "a", {Role.VIEWER})
    b = factory.account("tenant-b", "b", {Role.VIEWER})
    a_headers, b_headers = factory.headers(a), factory.headers(b)
    statuses = [
        limited_client.get("/api/v1/auth/whoami", headers=a_headers).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = limited_client.get("/api/v1/auth/whoami", headers=a_headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    assert refused.json()["error"] == "TooManyRequests"
    # Another tenant has its own budget.
    assert limited_client.get("/api/v1/auth/whoami", headers=b_headers).status_code == 200
    metrics = fastapi_app(limited_client).state.metrics
    counted = metrics.registry.get_sample_value(
        "sentimentops_quota_rejections_total", {"tenant": "tenant-a"}
    )
    assert counted == 2  # every refusal is counted, per tenant


def test_tenant_override_of_the_rate_limit(limited_client: TestClient) -> None:
    factory = Factory(fastapi_app(limited_client).state.sessions, limited_client)
    platform = factory.account("platform-ops", "root", {Role.PLATFORM_ADMIN})
    busy = factory.account("busy", "svc", {Role.VIEWER})
    response = limited_client.patch(
        f"/api/v1/tenants/{busy.tenant.id}",
        json={"rate_limit_burst": 10},
        headers=factory.headers(platform),
    )
    assert response.status_code == 200, response.text
    headers = factory.headers(busy)
    statuses = [
        limited_client.get("/api/v1/auth/whoami", headers=headers).status_code for _ in range(10)
    ]
    assert statuses.count(200) == 10
