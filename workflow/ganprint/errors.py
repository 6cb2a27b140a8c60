"""The one error type of bad input or configuration; it imports nothing of the package, so
every module, down to the CPU kernel pinning that runs first, can raise it."""


class GanprintError(Exception):
    """An error caused by bad input or configuration; the message names the file or key."""
