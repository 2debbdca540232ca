# nbgrader configuration for the mlp_backprop course, written by `mlp-grade nbgrader-course`.
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.root = __ROOT__
c.CourseDirectory.course_id = __COURSE_ID__
c.Exchange.root = __EXCHANGE__

# The graded code is the student's mlp.py: autograde must not replace it by
# the copy in source/ (which is the release stub, so no solution reaches
# students through release/ either).
c.Autograde.exclude_overwriting = {"mlp_backprop": ["mlp.py"]}

# Grading MNIST training inside a cell takes a while.
c.Execute.timeout = 900

# A harmless warning on stderr would zero a passing cell.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning|warn\()"

# Feedback shows results, never the source of hidden tests.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
