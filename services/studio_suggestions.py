"""The mapping studio's suggestion inbox.

``run_suggestions`` is the cold-start run over the SKUs, payment methods and VAT rates seen
in the last 90 days that no rule maps. Exact and normalised code matches and learned aliases
are applied to the draft by themselves (status ``applied``: a human still publishes); the
rest wait in the inbox (``open``) for one-click accept or reject. Accepting teaches an alias,
so the next similar SKU is matched by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from mappings.profile import parse_document
from mappings.rules import with_products
from mappings.skus import MAPPED, MATCHED, how_mapped
from mappings.suggest import Product, SkuMatcher, alias_key, suggest_payment_method, suggest_vat
from services import catalogue, product_cache, profiles
from services.studio import coverage_of
from store.db import session_scope
from store.mapping_models import MappingAlias, MappingSuggestion


@dataclass(frozen=True)
class SuggestReport:
    applied: int
    waiting: int
    covered: tuple[int, int]  # (mapped, seen) SKUs after the run


def _aliases(url: str, kind: str) -> dict[str, str]:
    with session_scope(url) as s:
        return {a.alias: a.target for a in s.scalars(
            select(MappingAlias).where(MappingAlias.kind == kind))}


def matcher(url: str, semantic: bool = False) -> SkuMatcher:
    """The SKU matcher over the cached catalogue and the learned aliases; ``semantic`` adds
    the optional embedding (``services.semantic``: workers only, never the web process)."""
    products = [Product(p.code, p.name, p.nominal_code) for p in catalogue.load(url).products]
    if not semantic:
        return SkuMatcher(products, _aliases(url, "sku"))
    from services.semantic import similarity

    return SkuMatcher(products, _aliases(url, "sku"), similarity)


def run_suggestions(url: str, actor: str = "kfsync", semantic: bool = False) -> SuggestReport:
    """Suggest targets for every unmapped SKU, method and VAT rate seen in the last 90 days."""
    rules = with_products(parse_document(profiles.working_document(url)),
                          product_cache.product_index(url))
    seen = catalogue.seen(url)
    cat = catalogue.load(url)
    engine = matcher(url, semantic)
    proposals: list[tuple[str, str, str | None, list[Any]]] = []
    for sku, name in sorted(seen.skus.items()):
        if how_mapped(sku, rules) not in (MAPPED, MATCHED):  # a code match needs no row
            proposals.append(("sku", sku, name, engine.suggest(sku, name)))
    methods = [(str(i), n) for i, n in cat.payment_methods.items()]
    for method in sorted(seen.methods):
        if method not in rules.payment_methods and method not in rules.offline_payment_methods:
            proposals.append(("payment", method, method,
                              suggest_payment_method(method, None, methods)))
    rates = [(str(r), r, f"{r}%") for r in cat.vat_rates]
    for rate in sorted(seen.vat_rates):
        if rate not in rules.vat_levels:
            proposals.append(("vat", rate, f"{rate}%", suggest_vat(Decimal(rate), rates)))
    applied: list[int] = []
    waiting = 0
    with session_scope(url) as s:
        for kind, key, label, top in proposals:
            row = s.scalars(select(MappingSuggestion).where(
                MappingSuggestion.kind == kind, MappingSuggestion.source_key == key)).first()
            if row is not None and row.status in ("accepted", "applied", "rejected"):
                continue  # decided before; a rejected one is not asked again
            data = {"top": [_suggestion_dict(x) for x in top]}
            status = "applied" if top and top[0].auto else "open"
            if row is None:
                row = MappingSuggestion(kind=kind, source_key=key, source_label=label,
                                        candidates=data, status="open")
                s.add(row)
            row.candidates, row.source_label = data, label
            s.flush()
            if status == "applied":
                applied.append(row.id)
            else:
                waiting += 1
    for suggestion_id in applied:
        accept(url, suggestion_id, actor, 0, status="applied")
    return SuggestReport(len(applied), waiting, coverage_of(url))


def _suggestion_dict(s: Any) -> dict[str, Any]:
    return {"target": s.target, "label": s.label, "confidence": round(float(s.confidence), 3),
            "reason": s.reason, "auto": bool(s.auto), "nominal_code": s.nominal_code}


def suggestions(url: str, status: str | None = "open", kind: str | None = None
                ) -> list[MappingSuggestion]:
    with session_scope(url) as s:
        query = select(MappingSuggestion).order_by(MappingSuggestion.kind,
                                                   MappingSuggestion.source_key)
        if status:
            query = query.where(MappingSuggestion.status == status)
        if kind:
            query = query.where(MappingSuggestion.kind == kind)
        return list(s.scalars(query))


def accept(url: str, suggestion_id: int, actor: str, choice: int = 0, *,
           status: str = "accepted") -> MappingSuggestion:
    """Write suggestion ``choice`` (0 = the best) into the draft and learn an alias.

    Raises:
        profiles.ProfileError: no such suggestion, already decided, or no such choice.
    """
    with session_scope(url) as s:
        row = s.get(MappingSuggestion, suggestion_id)
        if row is None:
            raise profiles.ProfileError(f"no suggestion {suggestion_id}")
        if row.status in ("accepted", "rejected"):
            raise profiles.ProfileError(f"suggestion {suggestion_id} was already {row.status}")
        top = row.candidates.get("top", [])
        if not 0 <= choice < len(top):
            raise profiles.ProfileError(f"suggestion {suggestion_id} has no choice {choice + 1}")
        kind, key, label, pick = row.kind, row.source_key, row.source_label, top[choice]

    def edit(doc: dict[str, Any]) -> str:
        return _apply(doc, kind, key, pick)

    action = "mapping-accept" if status == "accepted" else "mapping-auto-apply"
    profiles.edit_draft(url, actor, edit, action=action)
    with session_scope(url) as s:
        row = s.get(MappingSuggestion, suggestion_id)
        assert row is not None
        row.status, row.chosen = status, str(pick["target"])
        row.decided_by, row.decided_at = actor, datetime.now(UTC)
        if kind == "sku" and status == "accepted":
            for alias in alias_key(key, label):
                found = s.scalars(select(MappingAlias).where(
                    MappingAlias.kind == "sku", MappingAlias.alias == alias)).first()
                if found is None:
                    s.add(MappingAlias(kind="sku", alias=alias, target=str(pick["target"]),
                                       learned_from=row.id, created_by=actor))
                else:
                    found.target = str(pick["target"])
        s.flush()
        s.expunge(row)
        return row


def _apply(doc: dict[str, Any], kind: str, key: str, pick: dict[str, Any]) -> str:
    target = str(pick["target"])
    if kind == "sku":
        nominal = pick.get("nominal_code") or doc.get("default_nominal_code", 4000)
        doc.setdefault("skus", {})[key] = {"nominal_code": int(nominal), "product_code": target}
        return f"skus.{key} -> product {target} on nominal {nominal} ({pick['reason']})"
    if kind == "payment":
        entry = {"method_id": int(target), "account_id": None, "method_name": None,
                 "due_days": None}
        doc.setdefault("payment_methods", {})[key] = entry
        return f"payment_methods.{key} -> KashFlow method {target} ({pick['label']})"
    doc.setdefault("vat_levels", {})[key] = target
    return f"vat_levels.{key} -> {target}% ({pick['reason']})"


def reject(url: str, suggestion_ids: Iterable[int], actor: str) -> int:
    count = 0
    with session_scope(url) as s:
        for suggestion_id in suggestion_ids:
            row = s.get(MappingSuggestion, suggestion_id)
            if row is None or row.status != "open":
                continue
            row.status, row.decided_by, row.decided_at = "rejected", actor, datetime.now(UTC)
            profiles.audit(s, actor, "mapping-reject", f"mapping_suggestions/{row.id}",
                           f"{row.kind} {row.source_key}")
            count += 1
    return count


def bulk_accept(url: str, suggestion_ids: Sequence[int], actor: str) -> int:
    """Accept the best choice of each open suggestion; returns how many were accepted."""
    done = 0
    for suggestion_id in suggestion_ids:
        try:
            accept(url, suggestion_id, actor)
        except profiles.ProfileError:
            continue
        done += 1
    return done
