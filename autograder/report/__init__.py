"""Renderings of a ``Result``: one function per format, all pure (Result -> str)."""
from .formats import FORMATS, classroom, classroom_outputs, gradescope, junit, markdown, render, text

__all__ = ["FORMATS", "render", "text", "gradescope", "junit", "classroom", "classroom_outputs", "markdown"]
