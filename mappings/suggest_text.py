"""Text normalisation for value-mapping suggestions: codes, product names, attributes.

Pure (stdlib only). Used by ``mappings.suggest``; kept apart so the matcher reads as a
pipeline and this table of words can be reviewed on its own.

*Codes* are compared after ``normalise_code``: lowercase, separators dropped, leading zeros of
digit runs dropped (``"TSHIRT-RED-L"`` and ``"tshirt_red_l"`` -> ``"tshirtredl"``,
``"AC-0012"`` -> ``"ac12"``).

*Names* become a token list through ``name_tokens``:

- lowercase, accents dropped, ``&``/``+`` read as "and";
- quantities in one unit each: mass in g, volume in ml, length in mm (``"0.5L"``, ``"500 ml"``
  and ``"50cl"`` all become ``500ml``; ``"1kg"`` and ``"1000 g"`` become ``1000g``); packs
  become ``<n>pk`` (``"pack of 6"``, ``"6 pack"``, ``"6-pack"``, ``"x6"``);
- clothing sizes become ``xs s m l xl xxl xxxl`` (``"Large"``, ``"X-Large"``, ``"2XL"``);
- a small table of *generic* retail synonyms and abbreviations (``GENERIC_SYNONYMS``: tee ->
  tshirt, hoody -> hoodie, org -> organic, gray -> grey, blk -> black, ...). It is deliberately
  short and shop-agnostic; a shop's own vocabulary is *learned* from accepted suggestions
  (``mappings.suggest``), not added here.

*Attributes* (``attributes``) are what must never be confused: size, quantity per unit
dimension, pack count and colour. Two names conflict on an attribute when both name it and
the values differ.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation

Phrase = tuple[str, ...]

# unit -> (canonical unit, factor): one unit per dimension, so "0.5L" == "500ml"
UNITS: dict[str, tuple[str, Decimal]] = {
    "mg": ("g", Decimal("0.001")), "g": ("g", Decimal(1)), "gr": ("g", Decimal(1)),
    "gram": ("g", Decimal(1)), "grams": ("g", Decimal(1)), "kg": ("g", Decimal(1000)),
    "kilo": ("g", Decimal(1000)), "kilos": ("g", Decimal(1000)),
    "ml": ("ml", Decimal(1)), "cl": ("ml", Decimal(10)), "l": ("ml", Decimal(1000)),
    "ltr": ("ml", Decimal(1000)), "litre": ("ml", Decimal(1000)),
    "litres": ("ml", Decimal(1000)), "liter": ("ml", Decimal(1000)),
    "liters": ("ml", Decimal(1000)),
    "mm": ("mm", Decimal(1)), "cm": ("mm", Decimal(10)),
    "oz": ("oz", Decimal(1)), "lb": ("lb", Decimal(1)), "lbs": ("lb", Decimal(1)),
}
_QUANTITY = re.compile(r"(?<![a-z0-9.])(\d+(?:[.,]\d+)?)\s*(" + "|".join(
    sorted(UNITS, key=len, reverse=True)) + r")(?![a-z])")
_PACK = re.compile(r"\bpack of (\d+)\b|\b(\d+)\s*-?\s*(?:pk|pack|pcs|pieces)\b"
                   r"|(?<![a-z0-9])x\s?(\d+)\b|\b(\d+)\s?x(?![a-z0-9])")
_WORD = re.compile(r"[a-z0-9]+")

SIZES = ("xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl")
COLOURS = frozenset({
    "black", "white", "grey", "silver", "red", "burgundy", "maroon", "pink", "orange",
    "yellow", "mustard", "gold", "green", "olive", "khaki", "teal", "turquoise", "blue",
    "navy", "purple", "lilac", "violet", "brown", "tan", "beige", "cream", "ivory",
    "natural", "charcoal", "coral", "mint", "sage", "rust", "denim", "clear",
})


def _phrases(table: Mapping[str, str]) -> dict[Phrase, Phrase]:
    return {tuple(k.split()): tuple(v.split()) for k, v in table.items()}


# Generic, shop-agnostic retail vocabulary (left side as written after lowercasing and
# splitting on punctuation). Sizes first: "x large" must not become "x l".
GENERIC_SYNONYMS: dict[Phrase, Phrase] = _phrases({
    "extra small": "xs", "x small": "xs", "xsmall": "xs", "small": "s", "sml": "s",
    "medium": "m", "med": "m", "large": "l", "lrg": "l", "lge": "l",
    "extra large": "xl", "x large": "xl", "xlarge": "xl",
    "xx large": "xxl", "xxlarge": "xxl", "2xl": "xxl", "3xl": "xxxl", "xxx large": "xxxl",
    "t shirt": "tshirt", "tee": "tshirt", "tee shirt": "tshirt", "hoody": "hoodie",
    "sweat shirt": "sweatshirt", "org": "organic", "choc": "chocolate", "gray": "grey",
    "colour": "color", "blk": "black", "wht": "white", "gry": "grey", "nvy": "navy",
    "grn": "green", "blu": "blue", "asst": "assorted", "w": "with", "btl": "bottle",
    "lt": "light", "dk": "dark", "pk": "pack", "ea": "each",
})
STOPWORDS = frozenset({"the", "a", "an", "and", "with", "of", "for", "in", "by", "size"})
MAX_PHRASE = 3


def normalise_code(code: str) -> str:
    """``code`` lowercased, without separators or leading zeros of digit runs."""
    text = unicodedata.normalize("NFKD", code).encode("ascii", "ignore").decode().lower()
    runs = re.findall(r"[a-z]+|\d+", text)
    return "".join(r.lstrip("0") or "0" if r.isdigit() else r for r in runs)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def _quantity(match: re.Match[str]) -> str:
    value, unit = _number(match.group(1)), match.group(2)
    canonical, factor = UNITS[unit]
    if value is None:
        return match.group(0)
    amount = (value * factor).normalize()
    return f" {amount:f}{canonical} ".replace(".", "_")  # "_" keeps "1.5mm" one token


def _pack(match: re.Match[str]) -> str:
    count = next(g for g in match.groups() if g)
    return f" {int(count)}pk "


def rewrite(tokens: Sequence[str], table: Mapping[Phrase, Phrase]) -> list[str]:
    """``tokens`` with the longest matching phrases of ``table`` replaced, left to right."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for width in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
            replacement = table.get(tuple(tokens[i:i + width]))
            if replacement is not None:
                out.extend(replacement)
                i += width
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def raw_words(name: str) -> list[str]:
    """The words of a name, lowercased, quantities and packs in canonical form, before any
    synonym."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ").replace("+", " and ")
    text = _PACK.sub(_pack, text)
    text = _QUANTITY.sub(_quantity, text)
    return re.findall(r"[a-z0-9_]+", text)


def name_tokens(name: str, correct: Callable[[str], str] | None = None) -> list[str]:
    """The normalised tokens of a product name (see the module docstring); ``correct``, when
    given, spells each word first (the matcher corrects against its catalogue's words)."""
    words = raw_words(name)
    if correct is not None:
        words = [correct(w) for w in words]
    words = rewrite(words, GENERIC_SYNONYMS)
    return [w for w in words if w not in STOPWORDS]


def attributes(tokens: Sequence[str]) -> dict[str, frozenset[str]]:
    """Attribute kind -> values named in ``tokens``: ``size``, ``qty_<unit>``, ``pack``,
    ``colour``."""
    found: dict[str, set[str]] = {}
    for token in tokens:
        kind = _attribute_kind(token)
        if kind:
            found.setdefault(kind, set()).add(token)
    return {k: frozenset(v) for k, v in found.items()}


def _attribute_kind(token: str) -> str | None:
    if token in SIZES:
        return "size"
    if token in COLOURS:
        return "colour"
    match = re.fullmatch(r"[\d_]+([a-z]+)", token)
    if match:
        unit = match.group(1)
        if unit == "pk":
            return "pack"
        if unit in ("g", "ml", "mm", "oz", "lb"):
            return f"qty_{unit}"
    return None


def conflicts(query: Mapping[str, frozenset[str]], candidate: Mapping[str, frozenset[str]]
              ) -> list[tuple[str, str, str]]:
    """(kind, query value, candidate value) for each kind both name with no value shared."""
    out = []
    for kind, values in query.items():
        theirs = candidate.get(kind)
        if theirs and not values & theirs:
            out.append((kind, _show(values), _show(theirs)))
    return out


def shared(query: Mapping[str, frozenset[str]], candidate: Mapping[str, frozenset[str]]
           ) -> list[tuple[str, str]]:
    """(kind, value) for each kind both name with the same values."""
    return [(kind, _show(values)) for kind, values in query.items()
            if candidate.get(kind) == values]


def _show(values: frozenset[str]) -> str:
    return "/".join(sorted(v.replace("_", ".") for v in values))


def attribute_label(kind: str) -> str:
    return "size" if kind.startswith("qty_") or kind == "size" else kind
