"""Errors the library raises for bad input; each names the problem so the UI and CLI can show it."""


class RecsysCoreError(Exception):
    """Base class: a message meant for the user, shown without a traceback."""


class DataError(RecsysCoreError, ValueError):
    """A table, column or data set is missing, malformed or fails verification."""


class TrainingError(RecsysCoreError, RuntimeError):
    """Training could not proceed (diverged loss, cancelled, bad settings)."""


class RunStoreError(RecsysCoreError):
    """A run id is invalid, a run is missing, or a saved run is corrupted."""
