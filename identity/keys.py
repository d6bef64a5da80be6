"""JWT signing keys: generated here, stored in the database with the private half encrypted, rotated
on a schedule or on demand, and published as a JWKS (current and previous public keys)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import ECAlgorithm
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sentimentops.core.audit import service as audit
from sentimentops.core.vocabulary import AuditOutcome
from sentimentops.identity.models import SigningKey

# The one algorithm first-party tokens use. ECDSA P-256 keys are small and fast to verify.
ALGORITHM = "ES256"
CURRENT, PREVIOUS, RETIRED = "current", "previous", "retired"
PLATFORM_TENANT_LABEL = "-"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _wrapping_key(secret_key: str) -> bytes:
    # A dedicated subkey: the private keys' encryption is independent of any other use of
    # secret_key, and a leaked database alone does not reveal signing keys.
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"sentimentops/identity",
        info=b"jwt-signing-key-encryption/v1",
    ).derive(secret_key.encode())


def encrypt_private_key(pem: bytes, *, kid: str, secret_key: str) -> str:
    nonce = os.urandom(12)
    # The kid is authenticated data, so a ciphertext copied onto another key's row fails.
    sealed = AESGCM(_wrapping_key(secret_key)).encrypt(nonce, pem, kid.encode())
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def decrypt_private_key(blob: str, *, kid: str, secret_key: str) -> bytes:
    version, _, payload = blob.partition(":")
    if version != "v1":
        raise ValueError(f"unknown private key encryption version {version!r}")
    raw = base64.b64decode(payload)
    return AESGCM(_wrapping_key(secret_key)).decrypt(raw[:12], raw[12:], kid.encode())


def _public_jwk(private_key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return jwk


def create_key(session: Session, *, secret_key: str, status: str = CURRENT) -> SigningKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Random part keeps kids unguessable-but-harmless and unique across concurrent creators.
    kid = f"{utcnow():%Y%m%d}-{secrets.token_hex(8)}"
    key = SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=_public_jwk(private_key, kid),
        private_key_encrypted=encrypt_private_key(pem, kid=kid, secret_key=secret_key),
        status=status,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return key


def rotate(session: Session, *, secret_key: str, actor: str) -> SigningKey:
    """Make a new current key; the old current becomes previous, the old previous retires."""
    now = utcnow()
    session.execute(
        update(SigningKey)
        .where(SigningKey.status == PREVIOUS)
        .values(status=RETIRED, retired_at=now)
    )
    session.execute(update(SigningKey).where(SigningKey.status == CURRENT).values(status=PREVIOUS))
    key = create_key(session, secret_key=secret_key)
    audit.record(
        session,
        actor=actor,
        tenant=PLATFORM_TENANT_LABEL,
        action="identity.signing_key.rotate",
        resource=f"signing_key:{key.kid}",
        outcome=AuditOutcome.SUCCEEDED,
    )
    return key


def current_key(session: Session, *, secret_key: str, rotation_period: timedelta) -> SigningKey:
    """The key to sign with, creating or rotating it first when there is none or it is due."""
    key = session.execute(
        select(SigningKey)
        .where(SigningKey.status == CURRENT)
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if key is None or utcnow() - as_utc(key.created_at) > rotation_period:
        key = rotate(session, secret_key=secret_key, actor="system:key-rotation")
    return key


def private_pem(key: SigningKey, *, secret_key: str) -> bytes:
    return decrypt_private_key(key.private_key_encrypted, kid=key.kid, secret_key=secret_key)


def published_keys(session: Session) -> list[SigningKey]:
    """Keys whose signatures are accepted: the current and the previous one."""
    return list(
        session.execute(
            select(SigningKey)
            .where(SigningKey.status.in_((CURRENT, PREVIOUS)))
            .order_by(SigningKey.created_at.desc())
        ).scalars()
    )


def jwks(session: Session) -> dict[str, Any]:
    return {"keys": [dict(k.public_jwk) for k in published_keys(session)]}
