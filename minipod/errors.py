"""Error types shared by every part of minipod.

Every error a user should see is a MinipodError: the CLI prints its text
(and its hint, when there is one) instead of a Python traceback.

This module is imported everywhere, so it stays tiny and uses only the
standard library.
"""


class MinipodError(Exception):
    """An error meant for a human: a clear message, maybe a next step.

    hint: an optional suggestion of what to do about it, printed on its own
    line after the message by the CLI.
    """

    def __init__(self, message: str = "", hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class ManifestError(MinipodError):
    """A manifest that cannot be run, with every problem found in it.

    errors: one line per problem, each starting with the field path, e.g.
        spec.containers[0].image: required value
    Reporting them all at once saves the user a fix-and-retry loop.
    """

    def __init__(self, errors: list[str], hint: str | None = None):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors), hint)

    def __str__(self) -> str:
        return "\n".join(self.errors)


class ImageError(MinipodError):
    """An image that cannot be pulled, stored or unpacked."""


class SyscallError(MinipodError):
    """A failed Linux system call; errno is the kernel's error number."""

    def __init__(self, message: str, errno: int | None = 0, hint: str | None = None):
        super().__init__(message, hint)
        self.errno: int = errno or 0  # OSError.errno may be None


class NotFound(MinipodError):
    """An object (pod, container, image) that does not exist."""
