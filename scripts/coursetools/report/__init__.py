"""Reporting: the TA console (class and student pages), gradebooks, the TA guide."""
