"""The Magento module (magento/module-kfsync): PHP lint, PHPUnit, and its XML and composer."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET

from tests.php import MODULE, tool

PHP_FILES = sorted([*MODULE.rglob("*.php"), *MODULE.rglob("*.phtml")])
XML_FILES = sorted([*MODULE.rglob("*.xml"), *MODULE.glob("*.xml.dist")])


def test_every_php_file_passes_php_lint() -> None:
    php = tool("php")
    assert len(PHP_FILES) > 20
    failures = []
    for path in PHP_FILES:
        result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True,
                                timeout=30, check=False)
        if result.returncode != 0:
            failures.append(f"{path.relative_to(MODULE)}: {result.stdout.strip()}")
    assert failures == []


def test_the_plain_classes_pass_their_phpunit_tests() -> None:
    php, phpunit = tool("php"), tool("phpunit")
    result = subprocess.run([php, phpunit, "--do-not-cache-result", "-c",
                             str(MODULE / "phpunit.xml.dist")],
                            capture_output=True, text=True, timeout=120, check=False,
                            cwd=MODULE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    tests = re.search(r"OK \((\d+) tests", result.stdout)
    assert tests and int(tests.group(1)) >= 15, result.stdout[-1000:]


def test_every_xml_file_is_well_formed() -> None:
    assert len(XML_FILES) >= 10
    for path in XML_FILES:
        ET.parse(path)  # noqa: S314 - our own files; raises on a malformed one


def test_every_class_the_xml_names_exists_in_the_module() -> None:
    text = "\n".join(p.read_text() for p in XML_FILES)
    names = set(re.findall(r"Kfsync\\Connector\\[A-Za-z\\]+", text))
    generated = {n for n in names if n.endswith("\\Proxy")}  # made by Magento's code generator
    missing = [n for n in names - generated
               if not (MODULE / (n.split("\\", 2)[2].replace("\\", "/") + ".php")).is_file()]
    assert names and missing == []


def test_the_observers_listen_only_to_save_commit_after_events() -> None:
    events = ET.parse(MODULE / "etc" / "events.xml").getroot()  # noqa: S314 - our own file
    names = sorted(e.get("name", "") for e in events.iter("event"))
    assert names == ["cataloginventory_stock_item_save_commit_after",
                     "customer_save_commit_after", "sales_order_creditmemo_save_commit_after",
                     "sales_order_invoice_save_commit_after", "sales_order_save_commit_after"]


def test_composer_declares_a_magento2_module_under_mit() -> None:
    composer = json.loads((MODULE / "composer.json").read_text())
    assert composer["type"] == "magento2-module"
    assert composer["license"] == "MIT"
    assert composer["autoload"]["files"] == ["registration.php"]
    assert (MODULE / "LICENSE").read_text().startswith("MIT License")
