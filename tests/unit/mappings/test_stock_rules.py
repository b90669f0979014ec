"""The ``stock:`` section of the mapping file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.errors import MappingError
from mappings.stock_rules import (
    DEFAULT_INTERVAL_S,
    StockConfig,
    beat_interval_s,
    load_stock_config,
    parse_stock,
)


def test_defaults_without_a_section() -> None:
    assert parse_stock(None) == StockConfig()
    assert parse_stock({"skus": {}}) == StockConfig()
    config = StockConfig()
    assert (config.mode, config.interval_s, config.uses_msi) == ("kashflow", 300, False)


def test_a_full_section() -> None:
    config = parse_stock({"stock": {"mode": "both", "interval_s": 60, "source_code": "default",
                                    "skus": {"MUG": "magento", "GIFT": "off"}}})
    assert (config.mode, config.interval_s, config.source_code) == ("both", 60, "default")
    assert config.mode_of("MUG") == "magento" and config.mode_of("GIFT") == "off"
    assert config.mode_of("HOODIE") == "both"


@pytest.mark.parametrize(("section", "message"), [
    ({"mode": "shop"}, "stock.mode: Must be one of"),
    ({"interval_s": 5}, "stock.interval_s: Must be greater than or equal to 30"),
    ({"skus": {"MUG": "sometimes"}}, "stock.skus.MUG.value: Must be one of"),
    ({"intervall_s": 60}, "stock.intervall_s: Unknown field."),
])
def test_bad_keys_are_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(MappingError, match=r"^m.yml: ") as exc:
        parse_stock({"stock": section}, "m.yml")
    assert message in str(exc.value)


def test_file_and_beat_interval(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yml"
    path.write_text("skus: {}\nstock:\n  interval_s: 120\n", encoding="utf-8")
    assert load_stock_config(str(path)).interval_s == 120
    assert beat_interval_s(str(path)) == 120.0
    path.write_text("stock: [", encoding="utf-8")
    assert beat_interval_s(str(path)) == float(DEFAULT_INTERVAL_S)
