"""mdseg's own error types: problems with a user's settings, data or machine that a message can
explain. The command line prints these as one line that says what to do; any other exception is
a bug and keeps its traceback.

Each type also derives from the built-in exception it refines (``SettingError`` is a
``ValueError``...), so ``except ValueError`` in users' code keeps working.
"""
from __future__ import annotations


class MdsegError(Exception):
    """Base of every error whose message tells the user how to fix it."""


class SettingError(MdsegError, ValueError):
    """A setting (a profile field, a flag, a recipe's parameter) has a value mdseg cannot use."""


class UnknownName(MdsegError, KeyError):
    """A profile, recipe or teacher name that does not exist; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class OutputExists(MdsegError, FileExistsError):
    """An output folder already holds something made with other settings; mdseg never overwrites it."""


class MissingInput(MdsegError, FileNotFoundError):
    """A file or folder mdseg needs is not there; the message names the command that makes it."""


class DatasetError(MdsegError, ValueError):
    """Bad or missing data, with the file at fault and what to do about it."""


class DownloadError(MdsegError, RuntimeError):
    """A download cannot be made or is not the published file."""


class BrokenFile(MdsegError, ValueError):
    """A file mdseg wrote is torn or edited (not valid JSON, a checkpoint whose hash does not match);
    the message names the file and what to do."""
