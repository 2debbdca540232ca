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


#: settings that take one of a few values (the others must have the type of their default)
CHOICES = {
    ("sandbox", "parallel"): (True, False, "auto"),
    ("sandbox", "isolation"): ("best", "strict"),
    ("report", "hidden_visibility"): ("after_due_date", "after_published", "hidden"),
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _check(config: dict, default: dict, where: str = "") -> None:
    """Every value of ``config`` has the type of its default, or one of its ``CHOICES``; numbers are finite."""
    for key, value in config.items():
        name, base = f"{where}{key}", default.get(key)
        choices = CHOICES.get(tuple(name.split(".")))
        if choices is not None:
            if not any(value == c and type(value) is type(c) for c in choices):
                raise ConfigError(f"{name} must be one of {', '.join(_toml(c) for c in choices)}, not {_toml(value)}")
        elif isinstance(value, dict) and isinstance(base, dict):
            _check(value, base, f"{name}.")
        elif base is not None and _kind(value) != _kind(base):
            raise ConfigError(f"{name} must be {_kind(base)}, not {_toml(value)}")
        elif _kind(value) == "a number" and not (value == value and abs(value) != float("inf")):
            raise ConfigError(f"{name} must be a finite number, not {value}")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default configuration, updated from the TOML file ``path`` and then ``overrides``.

    Raises ConfigError, naming the setting, for an unknown key or a value of the wrong kind
    (``parallel = "yes"``): at load, before anything is graded.
    """
    with DEFAULT_FILE.open("rb") as f:
        config = tomllib.load(f)
    default = copy.deepcopy(config)
    if path is not None:
        try:
            with Path(path).open("rb") as f:
                config = _merge(config, tomllib.load(f), "")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
    if overrides:
        config = _merge(config, overrides, "")
    _check(config, default)
    return config
