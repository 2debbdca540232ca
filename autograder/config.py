"""Grading configuration: ``default_config.toml`` overlaid with an instructor's file."""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path(__file__).with_name("default_config.toml")


class ConfigError(ValueError):
    """An unreadable config file or an unknown key in it."""


def _merge(base: dict, override: dict, where: str) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"unknown setting {where}{key!r} (known: {', '.join(sorted(base))})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} must be a table")
            merged[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default configuration, updated from the TOML file ``path`` and then ``overrides``."""
    with DEFAULT_FILE.open("rb") as f:
        config = tomllib.load(f)
    if path is not None:
        try:
            with Path(path).open("rb") as f:
                config = _merge(config, tomllib.load(f), "")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
    if overrides:
        config = _merge(config, overrides, "")
    return config
