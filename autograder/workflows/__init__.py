"""Instructor workflows: batch grading, the nbgrader course, the Gradescope bundle, the student template repo."""
