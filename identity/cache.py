"""Authenticated principals from memory: the scoring hot path answers "who is calling" without
the database reads of identity.authn (key, account, tenant, roles).

An entry is keyed by the SHA-256 digest of the credential (the credential itself is never
held), lives at most `ttl_seconds` and never past its credential's own expiry (a token's `exp`,
an API key's `expires_at`); the least recently used entry goes first beyond `max_entries`.

Invalidation is by tenant (or everything), not by credential: whoever revokes a key, disables an
account or tenant or changes roles knows the tenant, but not the hashes of the tokens that
account holds; such changes are rare, so dropping a whole tenant costs a few database reads.
- This process: a commit that changes an identity row (seen by the ORM flush, or noted with
  `note_change` for a bulk statement) drops its tenant from every cache of the process right
  after the commit, before the changer's response goes out.
- Other processes: the identity flows `broadcast` the tenant on Redis pub/sub after their
  commit; a cache subscribed to the channel drops it when the message arrives. A cache given a
  Redis URL answers from memory only while it is subscribed, since messages sent while it was not
  are lost.
- Without Redis, other processes learn when their entries expire: within `ttl_seconds`.

An epoch counter closes the race between a request that read the database before a change
committed and stores its answer after the invalidation: that answer is not stored."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import chain
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.retry import Retry
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from sentimentops.core.logging import get_logger
from sentimentops.core.settings import Settings
from sentimentops.identity.keys import utcnow
from sentimentops.identity.models import ApiKey, RoleBinding, ServiceAccount, SigningKey, Tenant

if TYPE_CHECKING:
    from sentimentops.identity.authn import Authenticated

log = get_logger("sentimentops.auth_cache")

CHANNEL = "sentimentops:auth:invalidate"
DEFAULT_MAX_ENTRIES = 10_000
# Where a session collects the tenants its transaction changed (None: every tenant).
_CHANGED = "sentimentops.auth_cache.changed"
_RESUBSCRIBE_SECONDS = 1.0
_SUBSCRIBE_TIMEOUT_SECONDS = 5.0


def _digest(credential: str) -> bytes:
    return hashlib.sha256(credential.encode()).digest()


@dataclass
class _Entry:
    who: Authenticated  # with touch_api_key cleared: the cache decides when a touch is due
    tenant_id: str
    deadline: float  # on the cache's clock
    touch_at: float | None  # API keys: when the next last-use write is due


class AuthCache:
    """Principals by credential digest, for `ttl_seconds` (0: nothing is cached). `touch_every`
    is the API keys' last-use resolution: a hit on a key whose last write is older than that
    hands the write back to the caller (`touch_api_key`), once per process."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        touch_every: timedelta,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        redis_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._touch_every = touch_every.total_seconds()
        self._max_entries = max_entries
        self._redis_url = redis_url
        self._clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._epoch = 0
        self._subscribed = False
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        _register(self)

    @property
    def serving(self) -> bool:
        """Whether answers come from memory now (with Redis: only while subscribed)."""
        return self._ttl > 0 and (self._redis_url is None or self._subscribed)

    def lookup(self, credential: str, load: Callable[[], Authenticated]) -> Authenticated:
        """The cached answer for `credential`, else `load()`'s (stored unless an invalidation
        happened meanwhile). Exceptions of `load` (refusals) pass through and are not cached."""
        if not self.serving:
            return load()
        digest = _digest(credential)
        cached = self._get(digest)
        if cached is not None:
            return cached
        epoch = self._epoch
        who = load()
        self._put(digest, who, epoch)
        return who

    def peek(self, credential: str) -> Authenticated | None:
        """The cached answer for `credential`, without loading one (None: ask `lookup`). Cheap
        enough for the event loop: a hash and a dictionary look-up under a lock."""
        return self._get(_digest(credential)) if self.serving else None

    def _get(self, digest: bytes) -> Authenticated | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if now >= entry.deadline:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            if entry.touch_at is not None and now >= entry.touch_at:
                entry.touch_at = now + self._touch_every
                return replace(entry.who, touch_api_key=entry.who.api_key_id)
            return entry.who

    def _put(self, digest: bytes, who: Authenticated, epoch: int) -> None:
        now = self._clock()
        life = self._ttl
        if who.expires_at is not None:
            life = min(life, (who.expires_at - utcnow()).total_seconds())
        if life <= 0:
            return
        touch_at = None
        if who.api_key_id is not None:
            if who.touch_api_key is not None or who.api_key_last_used is None:
                touch_at = now + self._touch_every  # the caller writes it now
            else:
                age = (utcnow() - who.api_key_last_used).total_seconds()
                touch_at = now + max(0.0, self._touch_every - age)
        entry = _Entry(
            replace(who, touch_api_key=None), who.principal.tenant_id, now + life, touch_at
        )
        with self._lock:
            if epoch != self._epoch or not self.serving:
                return
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def drop(self, tenant_id: str | None) -> None:
        """Forget the principals of `tenant_id` (None: everyone's)."""
        with self._lock:
            self._epoch += 1
            if tenant_id is None:
                self._entries.clear()
                return
            for digest in [d for d, e in self._entries.items() if e.tenant_id == tenant_id]:
                del self._entries[digest]

    @property
    def size(self) -> int:
        """Entries held now (expired ones go when next looked up or evicted)."""
        return len(self._entries)

    # Other processes' invalidations ------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to other processes' invalidations, when there is a Redis URL (and a TTL).
        Returns once subscribed, or once the first attempt failed: a listener thread then keeps
        retrying, and the cache serves nothing from memory until it succeeds."""
        if self._redis_url is None or self._ttl <= 0 or self._listener is not None:
            return
        self._stop.clear()  # an app whose lifespan runs again starts listening again
        pubsub = self._subscribe(self._redis_url)
        self._listener = threading.Thread(
            target=self._listen,
            args=(self._redis_url, pubsub),
            name="auth-cache-invalidations",
            daemon=True,
        )
        self._listener.start()

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
            self._listener = None
        self.drop(None)

    def _subscribe(self, url: str) -> PubSub | None:
        # No hidden retries: a reconnect inside redis-py would re-subscribe silently and lose
        # what was published meanwhile; an error here makes the cache forget everything instead.
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            socket_keepalive=True,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = PubSub(client.connection_pool, ignore_subscribe_messages=False)
        try:
            pubsub.subscribe(CHANNEL)
            # Redis delivers what is published after it has processed the SUBSCRIBE: wait for
            # its confirmation before answering from memory.
            deadline = time.monotonic() + _SUBSCRIBE_TIMEOUT_SECONDS
            while True:
                message = pubsub.get_message(timeout=0.5)
                if message is not None and message["type"] == "subscribe":
                    break
                if time.monotonic() > deadline:
                    raise redis.TimeoutError("no subscription confirmation")
        except (redis.RedisError, OSError) as exc:
            log.warning("auth_cache.subscribe_failed", error=str(exc))
            pubsub.close()
            client.close()
            return None
        self._subscribed = True
        return pubsub

    def _listen(self, url: str, pubsub: PubSub | None) -> None:
        while not self._stop.is_set():
            if pubsub is None:
                if self._stop.wait(_RESUBSCRIBE_SECONDS):
                    break
                pubsub = self._subscribe(url)
                continue
            try:
                message = pubsub.get_message(timeout=1.0)
            except (redis.RedisError, OSError) as exc:
                log.warning("auth_cache.subscription_lost", error=str(exc))
                self._subscribed = False
                self.drop(None)
                pubsub.close()
                pubsub = None
                continue
            if message is not None and message["type"] == "message":
                self.drop_as_told(message["data"])
        self._subscribed = False
        if pubsub is not None:
            pubsub.close()

    def drop_as_told(self, data: Any) -> None:
        """Apply one invalidation message; one that cannot be read drops everything (anyone who
        can publish on the Redis could do that anyway)."""
        try:
            tenant = json.loads(data)["tenant"]
        except (ValueError, TypeError, KeyError):
            tenant = None
        self.drop(tenant if isinstance(tenant, str) else None)


# Every cache of this process, so that a commit anywhere in it reaches them all.
_caches: weakref.WeakSet[AuthCache] = weakref.WeakSet()
_caches_lock = threading.Lock()


def _register(cache: AuthCache) -> None:
    with _caches_lock:
        _caches.add(cache)


def _drop_everywhere(tenants: set[str | None]) -> None:
    with _caches_lock:
        caches = list(_caches)
    scopes: set[str | None] = {None} if None in tenants else tenants
    for cache in caches:
        for tenant in scopes:
            cache.drop(tenant)


def broadcast(settings: Settings, *, tenant_id: str | None) -> None:
    """After a committed change of `tenant_id`'s identities (None: signing keys, everyone's),
    tell the caches of other processes through Redis; without Redis they learn within their TTL.
    This process's caches dropped the tenant on the commit itself."""
    if settings.redis_url is None:
        return
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
    )
    try:
        client.publish(CHANNEL, json.dumps({"tenant": tenant_id}))
    except redis.RedisError as exc:
        # The change is committed and must stand; other processes then learn within the TTL.
        log.warning("auth_cache.broadcast_failed", error=str(exc), tenant=tenant_id)
    finally:
        client.close()


# Commits that change identities -----------------------------------------------------------------


def note_change(session: Session, tenant_id: str | None) -> None:
    """`tenant_id`'s cached principals (None: everyone's) are dropped in this process when
    `session` commits: for changes the ORM flush does not see (bulk UPDATE/DELETE)."""
    session.info.setdefault(_CHANGED, set()).add(tenant_id)


def _scope(row: object) -> tuple[bool, str | None]:
    """Whether `row` can change a cached principal, and whose."""
    if isinstance(row, Tenant):
        return True, row.id
    if isinstance(row, ServiceAccount | RoleBinding | ApiKey):
        return True, row.tenant_id
    if isinstance(row, SigningKey):  # a rotation retires the key older tokens were signed with
        return True, None
    return False, None


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, _flush: UOWTransaction) -> None:
    for row in chain(session.new, session.dirty, session.deleted):
        relevant, tenant_id = _scope(row)
        if relevant:
            note_change(session, tenant_id)


@event.listens_for(Session, "after_commit")
def _drop_committed(session: Session) -> None:
    changed: set[str | None] | None = session.info.pop(_CHANGED, None)
    if changed:
        _drop_everywhere(changed)


@event.listens_for(Session, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    # after_commit has taken what committed; what is left of an outermost transaction rolled
    # back. A savepoint's end keeps it: the outer transaction may still commit those changes.
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)
