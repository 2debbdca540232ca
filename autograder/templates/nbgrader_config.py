# nbgrader configuration for the mlp_backprop course, written by `mlp-grade nbgrader-course`.
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.root = __ROOT__
c.CourseDirectory.course_id = __COURSE_ID__
c.Exchange.root = __EXCHANGE__

# The inbound folder is writable by every student, who can place a submission there
# by hand; nbgrader's own collect follows symbolic links in it (an mlp.py linked to
# a file of yours would be collected, graded and handed back as feedback). SafeCollect
# (autograder/workflows/nbgrader_collect.py) copies only regular files and folders,
# owned by the student when the student id is a user here, never following a link,
# and logs every refusal as an error.
c.ExchangeFactory.collect = "autograder.workflows.nbgrader_collect.SafeCollect"

# The graded code is the student's mlp.py: autograde must not replace it by
# the copy in source/ (which is the release stub, so no solution reaches
# students through release/ either).
c.Autograde.exclude_overwriting = {"mlp_backprop": ["mlp.py"]}

# Autograde does NOT execute the student's notebook. nbgrader scores a grade
# cell from its outputs, and the kernel that would produce them runs the
# student's cells and imports their mlp.py: one line there silences every
# output (no output = full marks), replaces `check` or fakes the grader's
# verdicts, and an import that never returns holds the kernel for the whole
# cell timeout. Instead GradeCells (autograder/workflows/nbgrader_grading.py)
# runs here, in the nbgrader process: it grades the student's mlp.py once per
# notebook with the sandboxed grader (its own time limits, so no cell timeout
# is needed) and writes each check(...) cell's outputs from that result.
# The other preprocessors are nbgrader's defaults (Autograde.autograde_preprocessors
# of nbgrader 0.9.6, with Execute replaced); the sanitize step before them is
# left as it is (it clears every submitted output and restores the grade
# cells' source from the gradebook, so what GradeCells parses is the
# instructor's). The written answers are markdown cells graded by hand.
c.Autograde.autograde_preprocessors = [
    "autograder.workflows.nbgrader_grading.GradeCells",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Points, limits and the secret of the grader: a TOML file (else $MLP_GRADER_CONFIG, else the defaults).
# c.GradeCells.grader_config = "/path/to/grading.toml"

# Feedback shows results, never the source of hidden tests.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
