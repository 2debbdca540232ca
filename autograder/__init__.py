"""Autograder for the mlp_backprop assignment.

``grade(path, config=None, suite="graded") -> Result`` grades a folder holding
a student's ``mlp.py`` (or the file itself) in isolated child processes;
``autograder.report`` renders a Result for people, Gradescope, GitHub
Classroom and JUnit; ``autograder.data`` loads MNIST.
"""
from .grading import CheckResult, Result, grade

__all__ = ["grade", "Result", "CheckResult"]
__version__ = "0.1.0"
