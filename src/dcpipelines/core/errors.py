"""The base of every error the project raises for its users (bad input, a missing file).

Its message already says what is wrong and how to fix it, so the command line prints the
message alone, without a traceback (see :mod:`dcpipelines.short_errors`).
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message tells the user what to fix; shown without a traceback."""
