"""Stock sync benchmark: N SKUs (default 5,000) mapped in both sandboxes, a baseline pass,
then P% of them changed (default 5%) and one more pass, timed, with the calls each system
answered (the sandboxes' ``/_sandbox/calls``) per changed SKU.

Scenarios: ``kashflow`` mode on MSI (changes made in KashFlow), ``kashflow`` mode on legacy
``stockItems``, and ``both`` mode on MSI (half the changes in KashFlow, half in Magento).
The pass runs in this process with the worker's code (``workers.stock.run_pass``); the
sandbox runs in its own process without latency, and kfsync's KashFlow bucket is opened wide,
so the time is kfsync's own. Under the real limit (``KFSYNC_KASHFLOW_RATE``, default 2/s) a
pass takes at least KashFlow calls / rate, shown as ``at 2/s``.

    python -m bench.stock [--skus 5000] [--changed-pct 5]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import (
    PrivateRedis,
    Procs,
    Sandbox,
    db_kind,
    install_signal_cleanup,
    log,
    save_result,
    temp_database,
    workdir,
)

SEED_CHUNK = 500
DEFAULT_RATE = 2  # KFSYNC_KASHFLOW_RATE's default: the projection "at 2/s"


def _seed(sandbox: Sandbox, skus: list[str]) -> None:
    for start in range(0, len(skus), SEED_CHUNK):
        chunk = skus[start:start + SEED_CHUNK]
        sandbox.post("kashflow", "/products", [
            {"NominalCode": 4000, "Code": sku, "ManageStockLevel": True,
             "QuantityInStock": 100} for sku in chunk])
        sandbox.post("magento", "/products", [
            {"sku": sku, "name": sku, "price": 1, "qty": 100, "is_in_stock": True}
            for sku in chunk])


def _calls(sandbox: Sandbox) -> dict[str, dict[str, int]]:
    out = {}
    for server in ("kashflow", "magento"):
        calls = sandbox.get(server, "/calls")["calls"]
        writes = sum(n for k, n in calls.items() if k.split()[0] in ("PUT", "POST")
                     and "sessiontoken" not in k)
        out[server] = {"total": sum(calls.values()), "writes": writes}
        sandbox.delete(server, "/calls")
    return out


def _pass(sandbox: Sandbox) -> dict[str, Any]:
    from workers.stock import run_pass

    started = time.perf_counter()
    report = run_pass(trigger="bench")
    seconds = time.perf_counter() - started
    assert report is not None
    return {"seconds": round(seconds, 2), "counts": report.counts, "calls": _calls(sandbox)}


def scenario(sandbox: Sandbox, mapping: Path, skus: list[str], changed: int, mode: str,
             source: str | None) -> dict[str, Any]:
    """Baseline pass, ``changed`` SKUs moved, measured pass; the sandboxes are re-seeded."""
    from sqlalchemy import delete

    from store.db import session_scope
    from store.stock_models import StockBaseline, StockInvoiced, StockRun
    from workers import context, stock

    with session_scope(context.db_url()) as s:  # each scenario starts with no baselines
        for model in (StockBaseline, StockInvoiced, StockRun):
            s.execute(delete(model))
    sandbox.post("kashflow", "/reset", {})
    sandbox.post("magento", "/reset", {})
    _seed(sandbox, skus)
    mapping.write_text(yaml.safe_dump({
        "skus": {s: {"product_code": s, "nominal_code": 4000} for s in skus},
        "stock": {"mode": mode, "source_code": source}}), encoding="utf-8")
    stock.forget_stock_config()
    baseline = _pass(sandbox)
    moved = skus[:: max(1, len(skus) // changed)][:changed]
    in_magento = moved[len(moved) // 2:] if mode == "both" else []
    kf = [{"NominalCode": 4000, "Code": s, "QuantityInStock": 90} for s in moved
          if s not in in_magento]
    if kf:
        sandbox.post("kashflow", "/products", kf)
    if in_magento:
        sandbox.post("magento", "/products", [{"sku": s, "qty": 95, "is_in_stock": True}
                                              for s in in_magento])
    _calls(sandbox)  # the seeding calls are not the pass's
    measured = _pass(sandbox)
    n = max(1, measured["counts"]["changed"])
    kf_calls, mg_calls = measured["calls"]["kashflow"], measured["calls"]["magento"]
    result = {"mode": mode, "magento_api": f"MSI ({source})" if source else "legacy stockItems",
              "skus": len(skus), "changed": measured["counts"]["changed"],
              "baseline_pass": baseline, "pass": measured,
              "kashflow_calls_per_changed": round(kf_calls["total"] / n, 2),
              "magento_calls_per_changed": round(mg_calls["total"] / n, 2),
              "kashflow_writes_per_changed": round(kf_calls["writes"] / n, 2),
              "magento_writes_per_changed": round(mg_calls["writes"] / n, 2),
              "seconds_at_default_rate": round(kf_calls["total"] / DEFAULT_RATE, 1)}
    log(f"{mode:8} {result['magento_api']:18} {result['changed']} changed in "
        f"{measured['seconds']} s; KashFlow {kf_calls}, Magento {mg_calls}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--changed-pct", type=float, default=5.0)
    args = parser.parse_args()
    install_signal_cleanup()
    skus = [f"SKU-{n:05d}" for n in range(1, args.skus + 1)]
    changed = max(1, round(args.skus * args.changed_pct / 100))
    with workdir("stock") as tmp:
        procs = Procs(tmp / "logs")
        try:
            redis_server = PrivateRedis(tmp / "redis", procs, appendonly=False)
            redis_server.start()
            sandbox = Sandbox(procs, tmp)
            with temp_database(tmp) as db_url:
                mapping = tmp / "mapping.yml"
                os.environ.update({**sandbox.kfsync_env(), "KFSYNC_DATABASE_URL": db_url,
                                   "KFSYNC_REDIS_URL": redis_server.url,
                                   "KFSYNC_MAPPING_FILE": str(mapping),
                                   "KFSYNC_KASHFLOW_RATE": "10000",
                                   "KFSYNC_KASHFLOW_BURST": "10000"})
                results = [scenario(sandbox, mapping, skus, changed, mode, source)
                           for mode, source in (("kashflow", "default"), ("kashflow", None),
                                                ("both", "default"))]
                path = save_result("stock", {"database": db_kind(db_url),
                                             "scenarios": results,
                                             "changed_pct": args.changed_pct})
                log(f"results in {path}")
        finally:
            procs.stop_all()


if __name__ == "__main__":
    main()

