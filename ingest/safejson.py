"""Parse an untrusted JSON body into something every later step can hold.

``loads`` turns what used to be a 500 into a ``BadJson`` (a 400): nesting deeper than
``MAX_DEPTH`` (the parser's recursion would otherwise fail, or the worker's), a lone
surrogate such as ``"\\ud800"`` (valid JSON, but no UTF-8 encoding exists: the INSERT
failed), and NUL, which PostgreSQL's text and JSONB cannot store.
"""

from __future__ import annotations

from typing import Any

import simplejson

MAX_DEPTH = 64  # a Magento envelope is 3 levels deep; its data a few more


class BadJson(ValueError):
    """The body is not JSON kfsync can store; the message is one line for the sender."""


def loads(body: bytes | str, *, use_decimal: bool = True) -> Any:
    """Parse ``body`` and check it (see the module docstring).

    Raises:
        BadJson: invalid JSON, too deep, or a string that cannot be stored.
    """
    try:
        value = simplejson.loads(body, use_decimal=use_decimal)
    except RecursionError:
        raise BadJson(f"Invalid JSON: nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJson(f"Invalid JSON: {exc}") from None
    if not isinstance(body, bytes) or _may_be_unstorable(body):
        check(value)
    return value


def _may_be_unstorable(body: bytes) -> bool:
    """Whether ``check`` could find anything in what ``body`` parsed to. From bytes, NUL and
    a lone surrogate reach a string only as a ``\\u`` escape (raw, the parser refuses a
    control character and the UTF-8 decoder a surrogate), and nesting deeper than
    ``MAX_DEPTH`` takes more opening brackets than that (brackets inside strings only make
    the count larger): a webhook without either is not walked."""
    return b"\\u" in body or body.count(b"{") + body.count(b"[") > MAX_DEPTH


def check(value: Any) -> None:
    """Walk ``value`` without recursion; raise ``BadJson`` on the first problem."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BadJson(f"Invalid JSON: nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, inner in item.items():
                    _check_text(key)
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BadJson("Invalid JSON: a string holds NUL (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadJson("Invalid JSON: a string holds a lone surrogate (not UTF-8)") from None
