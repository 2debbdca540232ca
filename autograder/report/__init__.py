"""Renderings of a ``Result``: one function per format, all pure (Result -> str)."""
from .formats import FORMATS, classroom, gradescope, junit, render, text

__all__ = ["FORMATS", "render", "text", "gradescope", "junit", "classroom"]
