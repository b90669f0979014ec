"""Suggestions for KashFlow's short lists: payment methods and VAT rates; and the
``Suggestion`` every suggester returns. Pure (stdlib and rapidfuzz). Public names are
re-exported by ``mappings.suggest``.

Payment methods (§B.3 of the mapping-studio reference): the Magento *code* says what kind of
money it is (``PAYMENT_CODE_CLASSES``: a curated table of well-known codes -> a method
class), the KashFlow method is then picked by the words of its name within that class, and
the admin *title* breaks ties. VAT: the number, never the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz

from mappings.suggest_text import name_tokens


@dataclass(frozen=True)
class Suggestion:
    """One candidate target, best first in the lists returned here."""

    target: str
    label: str
    confidence: float
    reason: str
    auto: bool
    nominal_code: int | None = None


# -- payment methods -------------------------------------------------------------------------
# Well-known Magento method codes (longest prefix wins) -> method class (§B.3: the code says
# what kind of money it is; the KashFlow method is then picked by name within the class).
PAYMENT_CODE_CLASSES: dict[str, str] = {
    "checkmo": "cheque", "banktransfer": "bank", "cashondelivery": "cash",
    "purchaseorder": "bank", "free": "none",
    "braintree_paypal": "paypal", "paypal": "paypal", "payflow_express": "paypal",
    "payflow_link": "card", "payflow_advanced": "card", "payflowpro": "card",
    "braintree": "card", "stripe": "card", "authorizenet": "card", "adyen": "card",
    "worldpay": "card", "sagepay": "card", "opayo": "card", "checkoutcom": "card",
    "checkout_com": "card", "cybersource": "card", "square": "card", "ccsave": "card",
    "klarna": "bnpl", "clearpay": "bnpl", "afterpay": "bnpl", "laybuy": "bnpl",
    "amazon": "wallet", "applepay": "wallet", "googlepay": "wallet",
    "gocardless": "direct_debit", "directdebit": "direct_debit",
}
# Words that name each class in a KashFlow method name (or a Magento title).
PAYMENT_CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "cheque": ("cheque", "check"), "bank": ("bacs", "bank", "transfer", "faster payment"),
    "cash": ("cash",), "card": ("card", "credit", "debit", "visa", "mastercard"),
    "paypal": ("paypal",), "bnpl": ("klarna", "clearpay", "afterpay", "pay later"),
    "wallet": ("amazon", "apple pay", "google pay", "wallet"),
    "direct_debit": ("direct debit", "gocardless", "dd"), "none": (),
}
PAYMENT_CLASS_NAMES = {
    "cheque": "cheque", "bank": "bank transfer", "cash": "cash", "card": "card",
    "paypal": "PayPal", "bnpl": "buy now pay later", "wallet": "wallet",
    "direct_debit": "direct debit", "none": "no payment (zero total)",
}
PAYMENT_NOTES = {"purchaseorder": "; an account sale: usually no payment is posted until "
                                  "the customer pays (offline_payment_methods)"}
GATEWAYS = ("stripe", "braintree", "worldpay", "sagepay", "opayo", "adyen", "square",
            "klarna", "clearpay", "amazon", "gocardless", "paypal", "checkout")


def _payment_class(code: str) -> str | None:
    code = code.lower()
    prefixes = sorted((p for p in PAYMENT_CODE_CLASSES if code.startswith(p)), key=len)
    return PAYMENT_CODE_CLASSES[prefixes[-1]] if prefixes else None


def _words_class(text: str) -> str | None:
    text = " " + " ".join(name_tokens(text)) + " "
    for cls, words in PAYMENT_CLASS_WORDS.items():
        if any(f" {w} " in text for w in words):
            return cls
    return None


def suggest_payment_method(code: str, title: str | None, methods: Sequence[tuple[str, str]],
                           k: int = 3) -> list[Suggestion]:
    """KashFlow methods (``(id, name)`` from ``GET /paymentmethods/invoice``) for a Magento
    payment method ``code`` and its admin ``title``, best first.

    A method whose name equals the title or the code (normalised) is ``auto``. Otherwise the
    curated ``PAYMENT_CODE_CLASSES`` (or, for an unknown code, the class words in the title)
    picks the class; methods of that class rank first (a gateway named in both the code and
    the method name first of all), then title similarity. ``free`` suggests nothing but an
    exact name: a zero-total order posts no payment.
    """
    cls, rule = _payment_class(code), "curated code table"
    if cls is None:
        cls, rule = _words_class(title or ""), "title words"
    gateway = next((g for g in GATEWAYS if g in code.lower()), None)
    scored = []
    for method_id, method_name in methods:
        scored.append(_score_method(code, title, method_id, method_name, cls, rule, gateway))
    scored = [s for s in scored if s.confidence > 0 and (cls != "none" or s.auto)]
    scored.sort(key=lambda s: (-s.confidence, s.label))
    return scored[:k]


def _score_method(code: str, title: str | None, method_id: str, name: str, cls: str | None,
                  rule: str, gateway: str | None) -> Suggestion:
    norm_name = " ".join(name_tokens(name))
    for given, what in ((title, "title"), (code.replace("_", " "), "code")):
        if given and " ".join(name_tokens(given)) == norm_name:
            return Suggestion(method_id, name, 1.0, f"Magento {what} '{given}' is this "
                              "method's name", auto=True)
    similarity = fuzz.token_set_ratio(" ".join(name_tokens(title or code)), norm_name) / 100
    named = gateway is not None and gateway in norm_name.replace(" ", "")
    if cls is not None and (named or cls == _words_class(name)):
        score = (0.9 if named else 0.8) + 0.05 * similarity
        why = (f"'{code}' is a {PAYMENT_CLASS_NAMES[cls]} method ({rule})"
               + (f" through {gateway}, named in this method" if named else "")
               + PAYMENT_NOTES.get(code.lower(), ""))
        return Suggestion(method_id, name, round(score, 3), why, auto=False)
    return Suggestion(method_id, name, round(0.6 * similarity, 3),
                      f"title similarity {similarity:.2f}: '{title or code}' ~ '{name}'"
                      + (f"; not a {PAYMENT_CLASS_NAMES[cls]} method" if cls else ""),
                      auto=False)


# -- VAT -------------------------------------------------------------------------------------
VAT_TOLERANCE = Decimal("0.01")  # §B.3: match the number within +/-0.01, never the text


def suggest_vat(percent: Decimal, rates: Sequence[tuple[str, Decimal, str]], k: int = 3
                ) -> list[Suggestion]:
    """KashFlow VAT rates (``(id or level key, percent, text)``) for a Magento ``percent``,
    nearest first. An equal percentage is ``auto`` unless two rates share it (zero-rated
    and exempt are both 0%)."""
    equal = [r for r in rates if abs(r[1] - percent) <= VAT_TOLERANCE]
    out = []
    for key, rate, text in rates:
        diff = abs(rate - percent)
        label = text or f"{rate.normalize():f}%"
        if diff <= VAT_TOLERANCE:
            alone = len(equal) == 1
            reason = (f"VAT rate {percent.normalize():f}% equals this rate" if alone else
                      f"VAT rate {percent.normalize():f}% equals {len(equal)} rates; pick one")
            out.append(Suggestion(key, label, 1.0 if alone else 0.9, reason, auto=alone))
        else:
            confidence = float(max(Decimal(0), Decimal("0.5") - diff / 40))
            out.append(Suggestion(key, label, round(confidence, 3),
                                  f"nearest rate: differs by {diff.normalize():f} points from "
                                  f"{percent.normalize():f}%", auto=False))
    out.sort(key=lambda s: (-s.confidence, s.target))
    return out[:k]
