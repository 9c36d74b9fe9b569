"""Release: a module's skeleton and solutions repositories and its grader bundles (``pipeline.RELEASE``)."""
