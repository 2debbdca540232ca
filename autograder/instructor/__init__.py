"""Analysing a graded class: the class report (``class_report``), copy detection (``similarity``),
the LMS export (``lms``) and the HTML page they share (``page``)."""
