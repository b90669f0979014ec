"""SKU suggestion benchmark: precision, recall@3 and latency of ``mappings.suggest`` on the
labelled synthetic set of ``tests/synthetic_skus.py`` (a 5,000-product KashFlow catalogue).

Two modes over the same test queries: without aliases, and with the aliases learned from the
*training* queries (``learn_aliases`` over suggestions "accepted earlier", on other products
than the test queries; see the generator's docstring for exactly what that can teach). Per
mode: P@1, R@3 (the right product among the three shown), per-kind figures, how many top
suggestions were ``auto`` and how many of those were right, and coverage at >= 99% precision
(queries ranked by the top-1 confidence margin). Latency: every ``suggest`` call timed with
``time.perf_counter`` (one process, one thread), plus the matcher's build time. Also the
payment-method table on a hand-labelled list and VAT on the sandbox's rates.

    python -m bench.suggest [--products 5000] [--queries 1200] [--seed 7] [--no-report]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

from bench.common import log, percentile, save_result
from mappings.suggest import (
    SkuMatcher,
    Suggestion,
    learn_aliases,
    suggest_payment_method,
    suggest_vat,
)
from tests.synthetic_skus import KINDS, DataSet, Query, generate

TARGETS = {"p_at_1": 0.85, "p_at_1_aliases": 0.90, "r_at_3": 0.98, "p95_ms": 20.0}
# Magento code, admin title -> the KashFlow method an accountant would pick (by hand; the
# sandbox's method list, which is assumed from KashFlow's documentation)
PAYMENT_METHODS = [("409811", "Cash"), ("409826", "Cheque"), ("409837", "BACS"),
                   ("409844", "Credit/Debit Card"), ("409852", "PayPal"), ("409869", "Stripe")]
PAYMENT_GOLD = [
    ("checkmo", "Check / Money order", "Cheque"), ("banktransfer", "Bank Transfer Payment",
                                                   "BACS"),
    ("cashondelivery", "Cash On Delivery", "Cash"), ("purchaseorder", "Purchase Order", "BACS"),
    ("braintree", "Credit Card (Braintree)", "Credit/Debit Card"),
    ("braintree_paypal", "PayPal (Braintree)", "PayPal"),
    ("paypal_express", "PayPal Express Checkout", "PayPal"),
    ("payflow_express", "PayPal Express Checkout Payflow Edition", "PayPal"),
    ("payflowpro", "Credit Card (Payflow Pro)", "Credit/Debit Card"),
    ("stripe_payments", "Pay by Card", "Stripe"),
    ("authorizenet_acceptjs", "Credit Card (Authorize.net)", "Credit/Debit Card"),
    ("adyen_cc", "Adyen Credit Card", "Credit/Debit Card"),
    ("sagepaysuiteform", "Opayo Form", "Credit/Debit Card"),
    ("worldpay", "Worldpay", "Credit/Debit Card"),
    ("checkoutcom_card_payment", "Pay by card", "Credit/Debit Card"),
    ("my_gateway", "Debit or credit card", "Credit/Debit Card"),
]
VAT_RATES = [("3301", Decimal(20), "Standard 20%"), ("3302", Decimal(5), "Reduced 5%"),
             ("3303", Decimal(0), "Zero 0%")]


def _coverage_at(ranked: list[tuple[float, bool]], precision: float) -> float:
    """The largest share of queries, most confident first, whose top-1 precision is at least
    ``precision``."""
    best, right = 0, 0
    for n, (_, ok) in enumerate(sorted(ranked, key=lambda x: -x[0]), start=1):
        right += ok
        if right / n >= precision:
            best = n
    return best / len(ranked) if ranked else 0.0


def _margin(shown: list[Suggestion]) -> float:
    if not shown:
        return 0.0
    return shown[0].confidence - (shown[1].confidence if len(shown) > 1 else 0.0)


def evaluate(matcher: SkuMatcher, queries: list[Query]) -> tuple[dict[str, Any], list[float]]:
    """Precision figures for ``queries``, and the latency of each call in ms."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    latencies, ranked, auto, auto_right = [], [], 0, 0
    for q in queries:
        t0 = time.perf_counter()
        shown = matcher.suggest(q.sku, q.name)
        latencies.append((time.perf_counter() - t0) * 1000)
        top = bool(shown) and shown[0].target == q.gold
        counts = per[q.kind]
        counts[0] += 1
        counts[1] += top
        counts[2] += q.gold in [s.target for s in shown]
        ranked.append((2.0 if shown and shown[0].auto else _margin(shown), top))
        if shown and shown[0].auto:
            auto += 1
            auto_right += top
    n = len(queries)
    return {"queries": n,
            "p_at_1": sum(c[1] for c in per.values()) / n,
            "r_at_3": sum(c[2] for c in per.values()) / n,
            "per_kind": {k: {"n": c[0], "p_at_1": c[1] / c[0], "r_at_3": c[2] / c[0]}
                         for k, c in sorted(per.items(), key=lambda kv: _kind_order(kv[0]))},
            "auto": auto / n, "auto_precision": auto_right / auto if auto else None,
            "coverage_at_99": _coverage_at(ranked, 0.99)}, latencies


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _mode(data: DataSet, aliases: dict[str, str] | None,
          similarity: Any = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    matcher = SkuMatcher(data.products, aliases, similarity)
    build_s = time.perf_counter() - t0
    figures, latencies = evaluate(matcher, data.test)
    relisted, more = evaluate(matcher, data.relisted)
    latencies += more
    figures.update({
        "build_s": round(build_s, 3), "relisted": relisted,
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                       "p99": percentile(latencies, 99), "max": max(latencies),
                       "calls": len(latencies)},
        "learned_synonyms": {" ".join(k): " ".join(v)
                             for k, v in matcher.learned_synonyms.items()}})
    return figures


def _semantic_mode(data: DataSet, aliases: dict[str, str]) -> dict[str, Any] | None:
    """The learned-alias mode with the optional embedding (``kfsync[semantic]``), when
    installed; the matcher's build time then includes embedding every product name."""
    from services import semantic

    if not semantic.available():
        log("  semantic: kfsync[semantic] not installed; skipped")
        return None
    semantic.embedder()  # the model load (about 0.3 s) is not part of the build time
    return _mode(data, aliases, semantic.similarity)


def _payments() -> dict[str, Any]:
    misses = []
    for code, title, gold in PAYMENT_GOLD:
        shown = suggest_payment_method(code, title, PAYMENT_METHODS)
        if not shown or shown[0].label != gold:
            misses.append(f"{code} -> {shown[0].label if shown else 'nothing'}")
    vat_ok = sum(bool(s) and s[0].auto and s[0].target == key for key, rate, _ in VAT_RATES
                 for s in [suggest_vat(rate, VAT_RATES)])
    return {"payment_p_at_1": 1 - len(misses) / len(PAYMENT_GOLD),
            "payment_cases": len(PAYMENT_GOLD), "payment_misses": misses,
            "vat_accuracy": vat_ok / len(VAT_RATES)}


def run(products: int = 5000, queries: int = 1200, seed: int = 7) -> dict[str, Any]:
    started = time.monotonic()
    data = generate(products, queries, seed)
    aliases = learn_aliases((q.sku, q.name, q.gold) for q in data.train)
    log(f"suggest: {len(data.products)} products, {len(data.test)} test queries, "
        f"{len(data.train)} accepted earlier ({len(aliases)} alias keys), seed {seed}")
    plain, learned = _mode(data, None), _mode(data, aliases)
    semantic = _semantic_mode(data, aliases)
    p95 = max(plain["latency_ms"]["p95"], learned["latency_ms"]["p95"])
    result = {"database": "none (pure, in one process)", "products": len(data.products),
              "test_queries": len(data.test), "train_queries": len(data.train),
              "relisted_queries": len(data.relisted),
              "alias_keys": len(aliases), "seed": seed, "no_aliases": plain,
              "aliases": learned, "semantic": semantic, **_payments(), "targets": TARGETS,
              "met": {"p_at_1": plain["p_at_1"] >= TARGETS["p_at_1"],
                      "p_at_1_aliases": learned["p_at_1"] >= TARGETS["p_at_1_aliases"],
                      "r_at_3": min(plain["r_at_3"], learned["r_at_3"]) >= TARGETS["r_at_3"],
                      "p95_ms": p95 < TARGETS["p95_ms"]},
              "duration_s": round(time.monotonic() - started, 1)}
    modes = [("no aliases", plain), ("aliases", learned)]
    for name, m in modes + ([("aliases + semantic", semantic)] if semantic else []):
        log(f"  {name}: P@1 {m['p_at_1']:.3f} R@3 {m['r_at_3']:.3f} auto {m['auto']:.0%} "
            f"(precision {m['auto_precision']}) cov@99 {m['coverage_at_99']:.2f}; "
            f"p50 {m['latency_ms']['p50']:.1f} ms p95 {m['latency_ms']['p95']:.1f} ms; "
            f"build {m['build_s']:.2f} s; relisted P@1 {m['relisted']['p_at_1']:.2f}")
    log(f"  payments P@1 {result['payment_p_at_1']:.2f} {result['payment_misses']}; "
        f"VAT {result['vat_accuracy']:.2f}; targets {result['met']}")
    save_result("suggest", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-report", action="store_true",
                        help="only save var/bench/suggest.json; leave docs/benchmarks.md")
    args = parser.parse_args()
    run(args.products, args.queries, args.seed)
    if not args.no_report:
        from bench.report import write_report

        write_report()


if __name__ == "__main__":
    main()
