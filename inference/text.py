"""The text the model sees: cleaning and normalisation that ship inside serving artifacts, so
training and serving cannot differ (training calls these functions; serving owns them).

A model's model.json names the normaliser it was trained with (`"normalize": "norm-v1"`); the
runtime applies exactly that function before tokenising, and refuses a name it does not know.
Standard library only: the scoring install has no extra packages for this.

What `norm-v1` does, in order (each step exists because a measured failure needed it):
1. clean_text (NFKC, HTML entities and tags, zero-width/bidi/control characters dropped);
2. confusable look-alike letters (Cyrillic/Greek "а", "е", "о"…) folded to Latin, in words
   that mix scripts or in text that is mostly Latin, so Russian or Greek text stays itself;
3. emoji turned into their Unicode names ("😒" → " unamused face "), which the encoder's word
   vocabulary has, while it has no token for the emoji (every one was [UNK]);
4. emoticons (":)", "(:", ";)", ":-(", "<3", ":/") turned into words;
5. elongations capped: a letter repeated three or more times keeps two ("gooood" → "good",
   "soooo" → "soo"), and runs of four or more "!", "?" or "." keep three.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

# Bumped whenever clean_text's output changes for some input: serving artifacts record the
# version they were trained with, and a runtime refuses a version it does not implement.
CLEAN_VERSION = "clean-v1"

# Tags such as `<br />`, `<i>`, `</p>`; a letter must follow `<` so that "<3" and "a < b" stay.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_WHITESPACE = re.compile(r"\s+")
# Unicode categories dropped outright: Cf holds zero-width spaces/joiners, BOM, soft hyphen and
# bidi controls (invisible, and used to split tokens adversarially); Cs lone surrogates cannot
# be encoded as UTF-8; Co private use has no agreed meaning.
_DROP_CATEGORIES = frozenset({"Cf", "Cs", "Co"})
_MAX_PASSES = 8


def _clean_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # Double-escaped entities ("&amp;lt;") are common in scraped text: unescape to a fixed point.
    for _ in range(_MAX_PASSES):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = _TAG.sub(" ", text)
    # Fast path: a printable string holds no control, format, surrogate or private-use
    # character, so the per-character scan below (the slow part on long reviews) is skipped.
    if text.isprintable():
        return _WHITESPACE.sub(" ", text).strip()
    chars: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in _DROP_CATEGORIES:
            continue
        # Control characters (tabs, newlines, NUL, ...) separate words: keep them as spaces.
        chars.append(" " if category == "Cc" else ch)
    return _WHITESPACE.sub(" ", "".join(chars)).strip()


def clean_text(text: str) -> str:
    """NFKC, HTML entities and tags removed, invisible/control characters dropped, whitespace
    collapsed. Idempotent: clean_text(clean_text(x)) == clean_text(x)."""
    # One step can expose work for another (NFKC turns a fullwidth "＜" into a tag opener,
    # unescaping creates tags), so repeat until nothing changes.
    for _ in range(_MAX_PASSES):
        cleaned = _clean_once(text)
        if cleaned == text:
            return cleaned
        text = cleaned
    return text


NORMALIZE_VERSION = "norm-v1"

# Look-alike letters that adversarial or sloppy text puts in place of Latin ones (Unicode's
# confusables.txt, restricted to single letters of Cyrillic, Greek and a few symbol blocks
# whose glyphs match a Latin letter in common fonts).
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h", "ɡ": "g", "ү": "y", "ѡ": "w", "ո": "n",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u", "χ": "x",
    "ε": "e", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin look-alikes outside ASCII that NFKC keeps
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʏ": "y", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
}  # fmt: skip
_CONFUSABLE_CHARS = "".join(_CONFUSABLES)
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
_WORD = re.compile(r"\w+")
_HAS_CONFUSABLE = re.compile(f"[{re.escape(_CONFUSABLE_CHARS)}]")

# Emoticons, longest first so ":-)" wins over ":)". Each needs a space or text edge around it,
# so "(a:b)" or URLs stay as they are.
_EMOTICONS = {
    ":-)": "smiling face", ":)": "smiling face", "(:": "smiling face", "(-:": "smiling face",
    ":]": "smiling face", "=)": "smiling face", ":-D": "grinning face", ":D": "grinning face",
    "xD": "laughing face", "XD": "laughing face", ";-)": "winking face", ";)": "winking face",
    "(;": "winking face", ":-(": "sad face", ":(": "sad face", "):": "sad face",
    ":'(": "crying face", ":-/": "skeptical face", ":/": "skeptical face",
    ":-P": "face with tongue", ":P": "face with tongue", ":p": "face with tongue",
    ":-|": "neutral face", ":|": "neutral face", "-_-": "expressionless face",
    "<3": "red heart", "</3": "broken heart", ":-O": "surprised face", ":O": "surprised face",
    ":o": "surprised face", "^_^": "smiling face", "^^": "smiling face", "T_T": "crying face",
}  # fmt: skip
_EMOTICON = re.compile(
    r"(?<!\S)("
    + "|".join(re.escape(e) for e in sorted(_EMOTICONS, key=len, reverse=True))
    + r")(?=\s|$|[.,!?])"
)
_LETTER_RUN = re.compile(r"([^\W\d_])\1{2,}")
_MARK_RUN = re.compile(r"([!?.])\1{3,}")
_SPACES = re.compile(r"\s+")
# Variation selectors, skin-tone modifiers and the zero-width joiner only shape an emoji's
# picture: they carry no words of their own.
_EMOJI_MODIFIERS = frozenset(
    {"\ufe0e", "\ufe0f", "\u200d", "\u20e3"} | {chr(c) for c in range(0x1F3FB, 0x1F400)}
)


def _is_emoji(ch: str) -> bool:
    code = ord(ch)
    return (
        0x1F000 <= code <= 0x1FAFF  # pictographs, emoticons, transport, symbols and extensions
        or 0x2600 <= code <= 0x27BF  # miscellaneous symbols and dingbats (☹, ❤, ✨)
        or 0x2B00 <= code <= 0x2BFF  # arrows and stars (⭐)
        or code in (0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def _emoji_words(text: str) -> str:
    if text.isascii():
        return text  # fast path: most texts have no emoji
    out: list[str] = []
    for ch in text:
        if ch in _EMOJI_MODIFIERS:
            continue
        if _is_emoji(ch):
            name = unicodedata.name(ch, "")
            out.append(f" {name.lower()} " if name else " ")
        else:
            out.append(ch)
    return "".join(out)


def _fold_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if not _HAS_CONFUSABLE.search(word):
        return word
    # A word mixing Latin letters and look-alikes is an imitation; a word wholly in another
    # script is folded only when the text around it is Latin (see _fold_confusables).
    if any("a" <= c.lower() <= "z" for c in word):
        return word.translate(_CONFUSABLE_TABLE)
    return word


def _fold_confusables(text: str) -> str:
    if text.isascii() or not _HAS_CONFUSABLE.search(text):
        return text
    letters = [c for c in text if c.isalpha()]
    latin = sum("a" <= c.lower() <= "z" for c in letters)
    if letters and latin / len(letters) >= 0.5:
        # Mostly Latin: every look-alike is an imitation (a word may be wholly imitated).
        return text.translate(_CONFUSABLE_TABLE)
    return _WORD.sub(_fold_word, text)


def normalize_v1(text: str) -> str:
    """The `norm-v1` normaliser (module docstring). Idempotent."""
    text = clean_text(text)
    # Folding raises the Latin share, which can make a second pass fold more: go to the fixed
    # point so that normalising twice changes nothing (the share only grows, so this ends).
    for _ in range(4):
        folded = _fold_confusables(text)
        if folded == text:
            break
        text = folded
    text = _emoji_words(text)
    text = _EMOTICON.sub(lambda m: f" {_EMOTICONS[m.group(1)]} ", text)
    text = _LETTER_RUN.sub(r"\1\1", text)
    text = _MARK_RUN.sub(r"\1\1\1", text)
    return _SPACES.sub(" ", text).strip()


NORMALIZERS: dict[str, Callable[[str], str]] = {NORMALIZE_VERSION: normalize_v1}


def get_normalizer(name: str | None) -> Callable[[str], str]:
    """The normaliser an artifact names; None (artifacts from before norm-v1) keeps texts as
    they are. An unknown name raises KeyError: the caller refuses the artifact."""
    if name is None:
        return _identity
    return NORMALIZERS[name]


def _identity(text: str) -> str:
    return text
