"""Lookalike usernames: the confusable skeleton of Unicode TR39 (section 4), so that "раul"
(Cyrillic р and а), "paul" and "PAUL" are one name.

The mapping comes from Unicode's confusables.txt as the confusable-homoglyphs package ships it.
That package stores each line `source → prototype` in both directions, so the direction is
recovered from the shape of the data: a prototype is the hub that its sources point to (TR39's
mapping is idempotent, so a prototype is never a source itself). For equality of skeletons only
the classes matter, and those are exactly the connected groups of that data.

On top of TR39:
- the name is NFKC-normalised and case-folded first (names are unique ignoring case);
- combining marks on Latin, Greek and Cyrillic letters are dropped: NFC composes every accent
  those scripts really use, so a mark left over ("alicé" as "alice" + U+0301, a dot over an i)
  only makes a lookalike. Scripts whose letters need marks (Devanagari, Arabic, ...) keep them.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from importlib import resources

from confusable_homoglyphs import categories

_LRM = "\u200e"  # the data wraps right-to-left characters in these marks
_SCRIPTS_WITHOUT_MARKS = {"LATIN", "GREEK", "CYRILLIC", "COMMON"}


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each confusable character → its class's representative (the TR39 prototype)."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    neighbours: dict[str, set[str]] = {}
    for key, entries in data.items():
        a = key.strip(_LRM)
        for entry in entries:
            b = entry["c"].strip(_LRM)
            if a and b and a != b:
                neighbours.setdefault(a, set()).add(b)
                neighbours.setdefault(b, set()).add(a)
    mapping: dict[str, str] = {}
    for char, linked in neighbours.items():
        if len(char) != 1:
            continue  # only single characters are sources; longer strings are prototypes
        # The hub of the class has the most links; ties (two-member classes) by code point.
        group = {char, *linked}
        prototype = max(group, key=lambda c: (len(neighbours.get(c, ())), [-ord(x) for x in c]))
        if prototype != char:
            mapping[char] = prototype
    return mapping


def _script(char: str) -> str:
    try:
        return str(categories.alias(char))
    except Exception:  # a code point the package's data does not know
        return "UNKNOWN"


def _drop_lookalike_marks(text: str) -> str:
    out: list[str] = []
    base_script = "COMMON"
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.category(char) in ("Mn", "Me"):
            if base_script in _SCRIPTS_WITHOUT_MARKS:
                continue
        else:
            base_script = _script(char)
        out.append(char)
    return "".join(out)


def skeleton(name: str) -> str:
    """The key two names share when they look alike."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _drop_lookalike_marks(text)
    prototypes = _prototypes()
    for _ in range(2):  # a prototype may fold to another class's member: map it once more
        text = "".join(prototypes.get(c, c) for c in unicodedata.normalize("NFD", text))
        text = _drop_lookalike_marks(text.casefold())
    return unicodedata.normalize("NFD", text)


def is_invisible(char: str) -> bool:
    """Default-ignorable code points a name could hide (TR39 removes them from skeletons; a
    username has no use for them): variation selectors, the grapheme joiner, Hangul fillers."""
    code = ord(char)
    return (
        0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x180B <= code <= 0x180F
        or code in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0)
    )
