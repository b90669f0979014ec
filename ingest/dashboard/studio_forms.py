"""Form values -> profile document changes, for the studio's forms (no Flask here).

Values are put into the document as typed as the form allows (whole numbers as ints, empty
as ``None``) and anything else is left as typed, so the profile schema
(``services.profiles.save_draft``) reports it as one line naming the key, e.g.
``draft: due_days: Not a valid integer.``, and the form is shown again with what was typed.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from mappings.rules import Rules, StepToggles

# The policies form: (key, label). Choices come from the Rules field's Literal type.
POLICY_FIELDS: tuple[tuple[str, str], ...] = (
    ("unmapped_sku", "A SKU missing from the SKU map"),
    ("unmapped_payment_method", "A payment method missing from the payment map"),
    ("invalid_lines", "A row that cannot be billed"),
    ("discounts", "Discounts"),
    ("unit_price_rounding", "Unit price rounding"),
    ("default_nominal_code", "Default nominal code (unmapped SKUs)"),
    ("shipping_nominal_code", "Shipping nominal code"),
    ("shipping_description", "Shipping description"),
    ("discount_nominal_code", "Discount nominal code"),
    ("discount_description", "Discount description"),
    ("rounding_nominal_code", "Rounding nominal code (empty: the rounded line's)"),
    ("rounding_description", "Rounding description"),
    ("line_description", "Line description ({name} {sku} {product_code} {increment_id})"),
    ("guest_policy", "Guests with no KashFlow customer"),
    ("shared_guest_code", "Shared guest customer code"),
    ("shared_guest_name", "Shared guest customer name"),
    ("guest_code_prefix", "Guest code prefix"),
    ("customer_code_prefix", "Customer code prefix"),
    ("unknown_state", "A Magento state not in state_actions"),
    ("due_days", "Due days"),
    ("due_from", "Due from"),
    ("invoice_number_offset", "Invoice number offset"),
    ("credit_note_number_offset", "Credit note number offset"),
)
STEP_TOGGLES = tuple(StepToggles.__dataclass_fields__)
_HINTS = typing.get_type_hints(Rules)
_WHOLE = re.compile(r"-?\d{1,18}")


def policy_choices(key: str) -> tuple[str, ...]:
    """The allowed values of a policy key (empty for a free value)."""
    hint = _HINTS.get(key)
    return tuple(typing.get_args(hint)) if typing.get_origin(hint) is Literal else ()


def number(text: str | None) -> Any:
    """``"12"`` -> 12, ``""`` -> None, anything else as typed (the schema names it)."""
    value = (text or "").strip()
    if not value:
        return None
    return int(value) if _WHOLE.fullmatch(value) else value


def _is_int_field(key: str) -> bool:
    hint = _HINTS.get(key)
    return hint is int or (isinstance(hint, types.UnionType) and int in typing.get_args(hint))


def apply_policies(doc: dict[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """``doc`` with the policies form's scalar keys, step toggles and checks applied."""
    for key, _ in POLICY_FIELDS:
        raw = form.get(key, "")
        doc[key] = number(raw) if _is_int_field(key) else raw
    doc["steps"] = {name: form.get(f"steps.{name}") == "on" for name in STEP_TOGGLES}
    checks = doc.setdefault("checks", {})
    for check in list(checks):
        threshold = form.get(f"checks.{check}.threshold", "").strip()
        checks[check] = {"severity": form.get(f"checks.{check}.severity", ""),
                         "threshold": threshold or None}
    return doc


def offline_methods(text: str) -> list[str]:
    """The offline payment method codes typed as a comma or space separated list."""
    return sorted({code for code in re.split(r"[\s,]+", text) if code})


def payment_rule(form: Mapping[str, str]) -> dict[str, Any]:
    name = form.get("method_name", "").strip()
    return {"method_id": number(form.get("method_id")),
            "account_id": number(form.get("account_id")),
            "method_name": name or None, "due_days": number(form.get("due_days"))}


def describe_rule(rule: Mapping[str, Any]) -> str:
    """``method_id=3, account_id=1`` for an audit note (unset fields left out)."""
    return ", ".join(f"{k}={v}" for k, v in rule.items() if v is not None) or "no ids"
