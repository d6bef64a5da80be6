"""Identity-specific domain errors."""

from __future__ import annotations

from sentimentops.core.errors import DomainError


class OAuthError(DomainError):
    """An RFC 6749 §5.2 error of the token endpoint; `code` is the protocol's error code."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
