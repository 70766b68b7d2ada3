"""The run store."""

from recsys_core.runs.store import RunStore, SavedRun, default_runs_dir

__all__ = ["RunStore", "SavedRun", "default_runs_dir"]
