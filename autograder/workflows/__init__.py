"""Delivering the assignment and collecting submissions: batch grading (local or Dask), the nbgrader course and its
autograde and collect steps, the Gradescope bundle, the student template repository."""
