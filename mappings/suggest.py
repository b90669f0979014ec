"""Offline suggestions for value mapping: Magento SKU -> KashFlow product, payment method ->
KashFlow method, VAT percentage -> KashFlow rate. Pure: no I/O, no database.

SKUs (``SkuMatcher.suggest``), deterministic first; each step names itself in ``reason``:

1. **exact code**: the SKU is a KashFlow product code (confidence 1.0, ``auto``);
2. **normalised code**: equal after ``normalise_code`` (case, separators, leading zeros;
   0.98, ``auto`` unless two products normalise alike);
3. **learned alias**: the SKU or the normalised name was accepted for a product before
   (0.97, ``auto``; see ``alias_key`` and ``learn_aliases``). A *name* alias stays ``auto``
   only when no other product fits the name within ``NAME_MARGIN`` of it (else 0.96, "confirm"):
   a name without its distinguishing word was right once, not for every SKU;
4. **fuzzy**: names normalised (``mappings.suggest_text``: units, sizes, a short table of
   generic retail synonyms; then the token synonyms *learned* from accepted name aliases;
   words of 5+ letters that are not catalogue words are spelled as the nearest catalogue word
   >= 85% like them). Candidates: the ``CANDIDATES`` best names by rapidfuzz
   ``token_sort_ratio`` (precomputed normalised names, one C++ pass over the catalogue), plus
   products whose code is made of whole parts of the SKU ("GT-500" in "GT-500-2024") or is
   >= 90% like it. Each candidate scores ``SORT_WEIGHT`` token_sort + the rest token_set,
   code evidence when stronger, times ``FUZZY_CAP``; the **attribute guard** subtracts
   ``CONFLICT_PENALTY`` for each size, quantity, pack or colour both sides name differently
   ("size conflict: 1000g vs 500g"). Never ``auto``: these wait for an operator.

Payment methods and VAT rates: ``mappings.suggest_lists`` (re-exported here).

What gets learned from an accepted suggestion (``alias_key``): the normalised SKU
(``"sku:<normalise_code(sku)>"``) and, when a name was given, the normalised name
(``"name:<tokens>"``). The SKU key repeats the answer for the same SKU; the name key for a
*different* SKU with the same normalised name (a re-listed product, a new variant SKU scheme).
``SkuMatcher`` also derives **token synonyms** from the name keys: the words of an accepted
name that the product's name lacks, against the words it has that the accepted name lacks,
when that difference is one phrase against one phrase ("tee" ~ "tshirt", "noir" ~ "black").
Those only rewrite query words before fuzzy scoring, so they never make a match ``auto``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from mappings.suggest_lists import Suggestion, suggest_payment_method, suggest_vat
from mappings.suggest_text import (
    GENERIC_SYNONYMS,
    Phrase,
    attribute_label,
    attributes,
    conflicts,
    name_tokens,
    normalise_code,
    raw_words,
    rewrite,
    shared,
)

__all__ = ["Product", "SkuMatcher", "Suggestion", "alias_key", "learn_aliases",
           "suggest_payment_method", "suggest_vat"]

EXACT, NORMALISED, ALIAS = 1.0, 0.98, 0.97
ALIAS_UNSURE = 0.96  # > FUZZY_CAP: the earlier choice stays on top, but is not applied
NAME_MARGIN = 0.05  # fuzzy score within which another product fits a name "as well"
FUZZY_CAP = 0.95  # a fuzzy match never looks as sure as a deterministic one
CONFLICT_PENALTY = 0.3  # one attribute conflict drops a 0.95 match below a plain 0.7 one
CANDIDATES = 60  # siblings of one product line are rarely more than ~20
CODE_RATIO_MIN = 90  # below this, code similarity says nothing (§B.3: codes useless else)
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
SEMANTIC_WEIGHT = 0.3  # the optional embedding's share of a fuzzy score (kfsync[semantic])
SORT_WEIGHT = 0.6  # token_sort (word order free, all words count) vs token_set (subsets)
SPELL_MIN_LEN, SPELL_MIN_RATIO = 5, 85  # one slip in a 6+ letter word; not coat -> oat


@dataclass(frozen=True)
class Product:
    """A KashFlow product from the cached catalogue."""

    code: str
    name: str
    nominal_code: int | None = None


def alias_key(sku: str, name: str | None) -> list[str]:
    """The keys under which an accepted ``sku``/``name`` -> product pair is learned.

    ``"sku:<normalised sku>"`` always, and ``"name:<normalised name tokens>"`` when the name
    has any words. Store each key -> product code; ``learn_aliases`` does it for many pairs.
    """
    keys = []
    code = normalise_code(sku)
    if code:
        keys.append(f"sku:{code}")
    tokens = name_tokens(name or "")
    if tokens:
        keys.append("name:" + " ".join(tokens))
    return keys


def learn_aliases(accepted: Iterable[tuple[str, str | None, str]]) -> dict[str, str]:
    """The alias table for accepted (sku, name, product code) triples, oldest first.

    A key accepted for two different products is dropped: it no longer says which one.
    """
    table: dict[str, str] = {}
    ambiguous: set[str] = set()
    for sku, name, code in accepted:
        for key in alias_key(sku, name):
            if key in ambiguous:
                continue
            if table.setdefault(key, code) != code:
                ambiguous.add(key)
                del table[key]
    return table


@dataclass
class _Scored:
    score: float
    reason: str
    auto: bool = False
    name_alias: bool = False


def _check_name_alias(code: str, alias: _Scored, fuzzy: Mapping[str, _Scored]) -> _Scored:
    """``alias`` (a name alias for ``code``), no longer ``auto`` when other products fit the
    name about as well: a name without its distinguishing word ("Wren Peanut Butter 500g"
    of three variants) was right for one SKU, but says nothing about the next."""
    own = fuzzy[code].score if code in fuzzy else 0.0
    rivals = sum(1 for c, s in fuzzy.items() if c != code and s.score >= own - NAME_MARGIN)
    if not rivals:
        return alias
    return _Scored(ALIAS_UNSURE, f"{alias.reason}, but {rivals} other product"
                   f"{'s fit' if rivals > 1 else ' fits'} this name as well: confirm")


class SkuMatcher:
    """Suggests KashFlow products for Magento SKUs; indexes are built once, here."""

    def __init__(self, products: Sequence[Product],
                 aliases: Mapping[str, str] | None = None,
                 similarity: Callable[[Sequence[str]], Callable[[str], Sequence[float]]]
                 | None = None) -> None:
        """``similarity`` (optional, ``services.semantic.similarity``): given the product
        names, a function giving a query's meaning similarity (-1..1) to each of them; it is
        blended into the name score of the fuzzy tier (``SEMANTIC_WEIGHT``)."""
        self._products = list(products)
        self._by_code = {p.code: p for p in self._products}
        self._by_norm: dict[str, list[Product]] = {}
        for p in self._products:
            self._by_norm.setdefault(normalise_code(p.code), []).append(p)
        self._tokens = [name_tokens(p.name) for p in self._products]
        self._names = [" ".join(t) for t in self._tokens]
        self._words = [set(t) for t in self._tokens]
        self._attrs = [attributes(t) for t in self._tokens]
        self._index = {p.code: i for i, p in enumerate(self._products)}
        self._norm_codes = list(self._by_norm)
        self._aliases = {k: v for k, v in (aliases or {}).items() if v in self._by_code}
        words = {w for p in self._products for w in raw_words(p.name)}
        words |= {w for t in self._tokens for w in t}  # "tshirt" is no typo of "shirt"
        words |= {w for pair in GENERIC_SYNONYMS.items() for phrase in pair for w in phrase}
        self._vocabulary = sorted(words)
        self._spelling: dict[str, str] = {}
        self._learned = self._learn_synonyms()
        self._vocabulary = sorted(words | {w for phrase in self._learned for w in phrase})
        self._spelling.clear()
        self._meaning = similarity([p.name for p in self._products]) if similarity else None

    def _correct(self, word: str) -> str:
        """``word``, or the catalogue word it is a likely typo of (long words only)."""
        if len(word) < SPELL_MIN_LEN or not word.isalpha():
            return word
        if word not in self._spelling:
            best = process.extractOne(word, self._vocabulary, scorer=fuzz.ratio,
                                      score_cutoff=SPELL_MIN_RATIO)
            self._spelling[word] = best[0] if best else word
        return self._spelling[word]

    def _query_tokens(self, text: str) -> list[str]:
        return rewrite(name_tokens(text, self._correct), self._learned)

    def _learn_synonyms(self) -> dict[Phrase, Phrase]:
        votes: Counter[tuple[Phrase, Phrase]] = Counter()
        for key, code in self._aliases.items():
            if key.startswith("name:"):
                source = rewrite([self._correct(w) for w in key[5:].split()],
                                 GENERIC_SYNONYMS)
                pair = _synonym_pair(source, self._tokens[self._index[code]])
                if pair:
                    votes[pair] += 1
        known = {tuple(t[i:i + n]) for t in self._tokens for n in (1, 2)
                 for i in range(len(t) - n + 1)}
        learned: dict[Phrase, Phrase] = {}
        for (phrase, replacement), _ in votes.most_common():  # most confirmed wins a clash
            if phrase not in known:  # never rewrite words the catalogue itself uses
                learned.setdefault(phrase, replacement)
        return learned

    @property
    def learned_synonyms(self) -> dict[Phrase, Phrase]:
        """Token synonyms derived from the name aliases (Magento phrase -> KashFlow phrase)."""
        return dict(self._learned)

    def suggest(self, sku: str, name: str | None = None, k: int = 3) -> list[Suggestion]:
        """Up to ``k`` products for a Magento ``sku`` (and its product ``name``), best
        first."""
        fuzzy = dict(self._fuzzy(sku, name))
        found: dict[str, _Scored] = {}
        for code, scored in self._deterministic(sku, name):
            if scored.name_alias:
                scored = _check_name_alias(code, scored, fuzzy)
            found.setdefault(code, scored)
        for code, scored in fuzzy.items():
            if code not in found or found[code].score < scored.score:
                found[code] = scored
        ranked = sorted(found.items(), key=lambda kv: (-kv[1].score, kv[0]))[:k]
        return [Suggestion(target=code, label=self._by_code[code].name,
                           confidence=round(max(0.0, min(1.0, s.score)), 3), reason=s.reason,
                           auto=s.auto, nominal_code=self._by_code[code].nominal_code)
                for code, s in ranked]

    def _deterministic(self, sku: str, name: str | None) -> Iterable[tuple[str, _Scored]]:
        raw = sku.strip()
        if raw in self._by_code:
            yield raw, _Scored(EXACT, "exact code match", auto=True)
        norm = normalise_code(raw)
        same = self._by_norm.get(norm, [])
        for p in same:
            if len(same) == 1:
                yield p.code, _Scored(NORMALISED, f"code matches after normalising: "
                                      f"'{raw}' ~ '{p.code}' (both '{norm}')", auto=True)
            else:
                yield p.code, _Scored(0.8, f"code matches after normalising ('{norm}'), but "
                                      f"{len(same)} products share it")
        for key in alias_key(raw, name):
            code = self._aliases.get(key)
            if code is not None:
                what = "SKU" if key.startswith("sku:") else "name"
                yield code, _Scored(ALIAS, f"learned alias: {what} '{key[len(what) + 1:]}' "
                                    f"was accepted for {code} before", auto=True,
                                    name_alias=what == "name")

    def _fuzzy(self, sku: str, name: str | None) -> list[tuple[str, _Scored]]:
        tokens = self._query_tokens(name or " ".join(_SEPARATORS.split(sku)))
        query = " ".join(tokens)
        wanted = attributes(tokens)
        scores: dict[int, float] = {}
        if query:
            for scorer in (fuzz.token_sort_ratio,):
                for _, _, i in process.extract(query, self._names, scorer=scorer,
                                               limit=CANDIDATES, processor=None):
                    scores.setdefault(i, 0.0)
        code_hits = self._code_evidence(sku)
        for i in code_hits:
            scores.setdefault(i, 0.0)
        meaning = self._meaning(name or sku) if self._meaning and (name or query) else None
        if meaning is not None:
            nearest = sorted(range(len(meaning)), key=lambda j: -meaning[j])[:CANDIDATES]
            for i in nearest:
                scores.setdefault(i, 0.0)
        out = []
        asked = set(query.split())
        for i in scores:
            if i not in code_hits and meaning is None and not asked & self._words[i]:
                # No word in common (after spelling and synonyms): letters shared by unlike
                # words ("candle" ~ "delivery", 41%) are no evidence of the same product.
                continue
            scored = self._score(i, query, wanted, code_hits.get(i), name or sku)
            if meaning is not None:
                blended = (1 - SEMANTIC_WEIGHT) * scored.score + \
                    SEMANTIC_WEIGHT * FUZZY_CAP * max(0.0, meaning[i])
                scored = _Scored(blended, f"{scored.reason}; meaning similarity "
                                          f"{meaning[i]:.2f}")
            out.append((self._products[i].code, scored))
        return out

    def _code_evidence(self, sku: str) -> dict[int, tuple[float, str]]:
        """Products whose code is contained in the SKU or >= 90% like it: index ->
        (score 0..1, note)."""
        norm = normalise_code(sku)
        hits: dict[int, tuple[float, str]] = {}
        if len(norm) < 4:
            return hits
        for code_norm, ratio, _ in process.extract(norm, self._norm_codes, scorer=fuzz.ratio,
                                                   limit=5, score_cutoff=CODE_RATIO_MIN):
            for p in self._by_norm[code_norm]:
                hits[self._index[p.code]] = (ratio / 100 * 0.95,
                                             f"code {ratio:.0f}% similar to '{sku}'")
        parts = [normalise_code(part) for part in _SEPARATORS.split(sku) if part]
        for start in range(len(parts)):  # product codes made of whole parts of the SKU
            for end in range(start + 1, len(parts) + 1):
                inner = "".join(parts[start:end])
                if len(inner) < 4 or inner == norm:
                    continue
                for p in self._by_norm.get(inner, []):
                    hit = (0.8 + 0.15 * len(inner) / len(norm),
                           f"code '{p.code}' contained in SKU '{sku}'")
                    i = self._index[p.code]
                    if hit[0] > hits.get(i, (0.0, ""))[0]:
                        hits[i] = hit
        return hits

    def _score(self, i: int, query: str, wanted: Mapping[str, frozenset[str]],
               code_hit: tuple[float, str] | None, shown: str) -> _Scored:
        name = self._names[i]
        sort_ratio = fuzz.token_sort_ratio(query, name) / 100
        set_ratio = fuzz.token_set_ratio(query, name) / 100
        score = SORT_WEIGHT * sort_ratio + (1 - SORT_WEIGHT) * set_ratio
        reason = (f"name similarity {score:.2f}: '{shown}' ~ '{self._products[i].name}'"
                  if query else "no name to compare")
        if code_hit and code_hit[0] > score:
            score = code_hit[0] + 0.04 * sort_ratio  # the name still breaks ties
            reason = f"{code_hit[1]}; {reason}"
        score *= FUZZY_CAP
        notes = []
        for kind, ours, theirs in conflicts(wanted, self._attrs[i]):
            score -= CONFLICT_PENALTY
            notes.append(f"{attribute_label(kind)} conflict: {ours} vs {theirs}")
        same = [f"same {attribute_label(kind)} {value}" for kind, value
                in shared(wanted, self._attrs[i])]
        return _Scored(score, "; ".join([reason, *notes, *same]))


def _synonym_pair(source: list[str], target: list[str]) -> tuple[Phrase, Phrase] | None:
    """(source phrase, target phrase) when ``source`` and ``target`` differ by exactly one
    contiguous phrase each, the words of the phrases unlike one another (not a typo)."""
    theirs, ours = set(target), set(source)
    extra = [i for i, w in enumerate(source) if w not in theirs]
    missing = [i for i, w in enumerate(target) if w not in ours]
    if not extra or not missing or len(extra) > 2 or len(missing) > 2:
        return None  # longer differences are missing words (sparse names), not synonyms
    if not _contiguous(extra) or not _contiguous(missing):
        return None
    if set(source[:extra[0]]) != set(target[:missing[0]]):
        return None  # not in the same place: a missing word and an extra one, unrelated
    phrase = tuple(source[i] for i in extra)
    replacement = tuple(target[i] for i in missing)
    if fuzz.ratio(" ".join(phrase), " ".join(replacement)) >= 75:
        return None  # a typo, not vocabulary
    return phrase, replacement


def _contiguous(indexes: list[int]) -> bool:
    return indexes == list(range(indexes[0], indexes[0] + len(indexes)))
