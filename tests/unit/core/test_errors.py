"""One error root (core/errors.py): every classified failure says what it means for the work."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from connectors.errors import Ambiguous, AuthFailed, ConnectorError, NotFound, Rejected, Transient
from core.errors import AmbiguousError, FatalError, KfsyncError, RetriableError
from mappings.errors import MappingError

KW = {"system": "kashflow", "reason": "test"}


@pytest.mark.parametrize(("error", "kind", "outcome"), [
    (Transient("timeout", **KW), RetriableError, "transient"),
    (Ambiguous("reset after send", **KW), AmbiguousError, "ambiguous"),
    (Rejected("bad VAT", **KW), FatalError, "rejected"),
    (NotFound("no such invoice", **KW), FatalError, "not_found"),
    (AuthFailed("locked", **KW), FatalError, "auth"),
    (MappingError("SKU X is not mapped"), FatalError, "rejected"),
])
def test_each_failure_has_one_class_under_the_root(error: Exception, kind: type,
                                                   outcome: str) -> None:
    assert isinstance(error, KfsyncError) and isinstance(error, kind)
    assert error.outcome == outcome  # what the attempt log records


def test_an_ambiguous_write_is_retried_and_a_fatal_one_is_not() -> None:
    ambiguous = Ambiguous("502 after POST", status=502, retry_after=3.0, **KW)
    assert isinstance(ambiguous, RetriableError) and not isinstance(ambiguous, FatalError)
    assert (ambiguous.status, ambiguous.retry_after) == (502, 3.0)
    assert not isinstance(Rejected("no", **KW), RetriableError)


def test_a_bare_connector_error_is_unclassified() -> None:
    error = ConnectorError("odd answer", **KW)
    assert isinstance(error, KfsyncError)
    assert not isinstance(error, RetriableError | FatalError)
    assert error.outcome == "error"  # retried, then dead-lettered


def test_the_bottom_layer_imports_nothing_from_the_app() -> None:
    source = Path(__file__).parents[3] / "core" / "errors.py"
    imported = {node.module for node in ast.walk(ast.parse(source.read_text()))
                if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__"}
