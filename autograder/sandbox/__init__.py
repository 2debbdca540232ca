"""Isolated execution of student code: ``run_probe`` (parent) and ``child.py`` (driver)."""
from .runner import Limits, Outcome, load_npy, run_probe

__all__ = ["Limits", "Outcome", "load_npy", "run_probe"]
