"""The one exception type for mistakes a user can fix: the CLI prints it as one line, no traceback.

It lives at the bottom of the package (imports nothing), so that any layer can raise it without
importing another: `from mase.errors import MaseError`."""


class MaseError(Exception):
    """A user-fixable error. The message is one line that says what is wrong and how to fix it."""

    exit_code = 2
