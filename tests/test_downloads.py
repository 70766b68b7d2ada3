"""A download rendered on click survives the sweeps other sessions' script runs make, long enough
for a slow browser to fetch it (recsys_core/service/downloads.py)."""

from __future__ import annotations

import pytest
from streamlit.runtime.media_file_manager import (
    MediaFileKind,
    MediaFileManager,
    MediaFileMetadata,
)
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from recsys_core.service import downloads


def _generated(manager: MediaFileManager) -> str:
    """A file stored as ``execute_deferred`` stores one: downloadable, no session refers to it."""
    file_id = manager._storage.load_and_get_id(b"png", "image/png", MediaFileKind.DOWNLOADABLE, "m.png")
    manager._file_metadata[file_id] = MediaFileMetadata(kind=MediaFileKind.DOWNLOADABLE)
    return file_id


@pytest.fixture
def manager(monkeypatch):
    monkeypatch.setattr(MediaFileMetadata, "__init__", downloads._ORIGINAL_INIT)
    monkeypatch.setattr(MediaFileMetadata, "mark_for_delete", downloads._ORIGINAL_MARK)
    return MediaFileManager(MemoryMediaFileStorage("/media"))


def test_without_the_fix_two_sweeps_delete_a_fresh_download(manager):
    file_id = _generated(manager)
    manager.remove_orphaned_files()  # another session's script run ends
    manager.remove_orphaned_files()  # and again, a second later
    assert manager.read_file(file_id) is None


def test_a_fresh_download_survives_sweeps_then_goes(manager, monkeypatch):
    downloads.keep_generated_downloads()
    assert downloads.generated_downloads_kept()
    clock = [1000.0]
    monkeypatch.setattr(downloads.time, "monotonic", lambda: clock[0])
    file_id = _generated(manager)
    for _ in range(10):  # ten sessions polling
        manager.remove_orphaned_files()
    assert manager.read_file(file_id).content == b"png"
    clock[0] += downloads.GRACE_SECONDS + 1
    manager.remove_orphaned_files()
    assert manager.read_file(file_id) is not None  # marked
    manager.remove_orphaned_files()
    assert manager.read_file(file_id) is None  # and gone: nothing is kept for ever
