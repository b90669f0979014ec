"""Helpers for the mapping tests: named Magento fixtures and invoice tables."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from mappings.magento import Order, parse_order

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "magento"

Row = tuple[str, str, str, str, str, int]


def fixture_doc(name: str) -> dict[str, Any]:
    """A Magento order fixture as the connector decodes it (floats as ``Decimal``)."""
    with (FIXTURES / f"{name}.json").open(encoding="utf-8") as handle:
        doc: dict[str, Any] = json.load(handle, parse_float=Decimal)
    return doc


def fixture_order(name: str) -> Order:
    return parse_order(fixture_doc(name))


def line_table(invoice: dict[str, Any]) -> list[Row]:
    """(Description, Quantity, Rate, VATLevel, VATAmount, NominalCode) per line, as text."""
    return [
        (
            line["Description"],
            str(line["Quantity"]),
            str(line["Rate"]),
            str(line["VATLevel"]),
            str(line["VATAmount"]),
            line["NominalCode"],
        )
        for line in invoice["LineItems"]
    ]


def totals(invoice: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """Net, VAT and gross the way KashFlow computes them from the lines."""
    net = sum(
        (
            (Decimal(line["Quantity"]) * Decimal(line["Rate"])).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP)
            for line in invoice["LineItems"]
        ),
        Decimal(0),
    )
    vat = sum((Decimal(line["VATAmount"]) for line in invoice["LineItems"]), Decimal(0))
    return net, vat, net + vat
