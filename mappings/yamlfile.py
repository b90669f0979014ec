"""Reading the mapping file: one place for file and YAML errors, as one line naming the file."""

from __future__ import annotations

from typing import Any

import yaml

from mappings.errors import MappingError


def read_yaml(path: str) -> Any:
    """The parsed YAML at ``path``.

    Raises:
        MappingError: unreadable file or invalid YAML, as one line naming the file.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping rules: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from exc
