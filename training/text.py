"""Text processing of the data pipeline: de-duplication keys, PII scrubbing, stable hash splits.
The cleaning that serving applies too lives in inference/text.py (serving owns it, training
calls it)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping

from sentimentops.core.errors import InvalidInput
from sentimentops.inference.text import clean_text

_PUNCT_OR_SPACE = re.compile(r"[^\w]+")


def normalise_key(text: str) -> str:
    """The identity of a text for de-duplication and hash splits: cleaned, case-folded,
    punctuation and spacing ignored."""
    return _PUNCT_OR_SPACE.sub(" ", clean_text(text).casefold()).strip()


# --- PII scrubbing ---------------------------------------------------------------------------
# Regular expressions only (no NER model to download). Order matters: URLs first because they
# may contain e-mail addresses and IPs; cards before phones because both are digit runs.
_URL = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]'}]")
# The local part allows RFC 5322's "atext" characters, not just letters and dots.
_EMAIL = re.compile(
    r"(?i)(?<![\w!#$%&'*+/=?^`{|}~.-])[\w!#$%&'*+/=?^`{|}~.-]+"
    r"@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"
)
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
_IPV6_CANDIDATE = re.compile(r"(?i)(?<![0-9a-f:])[0-9a-f:]*:[0-9a-f:]*:[0-9a-f:]*(?![0-9a-f:])")
_CARD_CANDIDATE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)"
)
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15
_MIN_UNSEPARATED_PHONE_DIGITS = 10

PII_PLACEHOLDERS = ("[URL]", "[EMAIL]", "[IP]", "[CARD]", "[PHONE]")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _ipv6(match: re.Match[str]) -> str:
    candidate = match.group(0)
    # "::" alone is a valid address but in text it is punctuation: demand some hex digits.
    if sum(ch not in ":" for ch in candidate) < 2:
        return candidate
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return candidate
    return "[IP]"


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if _luhn_ok(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
        return found
    # Plain runs of digits separated only by spaces are usually numbers or years ("1999 2000"),
    # so they count as phones only with a country code, an area code in parentheses, a dash or
    # dot separator, or ten digits or more.
    marked = found.startswith("+") or "(" in found or "-" in found or "." in found
    return "[PHONE]" if marked or len(digits) >= _MIN_UNSEPARATED_PHONE_DIGITS else found


def scrub_pii(text: str) -> str:
    """Replace e-mail addresses, URLs, IP addresses, card numbers (Luhn-checked) and phone
    numbers with placeholders such as "[EMAIL]"."""
    text = _URL.sub("[URL]", text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _IPV4.sub("[IP]", text)
    text = _IPV6_CANDIDATE.sub(_ipv6, text)
    text = _CARD_CANDIDATE.sub(_card, text)
    return _PHONE_CANDIDATE.sub(_phone, text)


# --- Stable hash splits ----------------------------------------------------------------------
_HASH_SCALE = float(2**64)


def stable_fraction(key: str, *, salt: str = "") -> float:
    """A number in [0, 1) that depends only on `key` and `salt` (SHA-256; never Python's
    randomised hash()), the same on every machine and run."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SCALE


def hash_split(key: str, fractions: Mapping[str, float], *, salt: str = "") -> str:
    """The split `key` belongs to, given split names and their fractions (summing to 1) in a
    fixed order."""
    total = sum(fractions.values())
    if not fractions or abs(total - 1.0) > 1e-9 or any(f < 0 for f in fractions.values()):
        raise InvalidInput(f"split fractions must be non-negative and sum to 1, got {fractions}")
    point = stable_fraction(key, salt=salt)
    cumulative = 0.0
    name = ""
    for name, fraction in fractions.items():
        cumulative += fraction
        if point < cumulative:
            return name
    return name  # rounding left point just above the last boundary
