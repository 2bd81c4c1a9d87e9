"""The old home of MaseError (now mase.errors, at the package root); kept for imports written against it."""

from mase.errors import MaseError  # noqa: F401
