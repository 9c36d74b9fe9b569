"""The exit codes of tito and the error that carries one."""

OK = 0
"""Everything asked for worked (tests passed, files written)."""
FAILED = 1
"""The command ran but what it checked failed (a test, a checksum, a doctor check)."""
USAGE = 2
"""Bad arguments or a missing prerequisite; the message says what to run or install."""


class TitoError(Exception):
    """A problem the user can fix; its message names the problem and the fix."""

    def __init__(self, message: str, code: int = USAGE):
        super().__init__(message)
        self.code = code
