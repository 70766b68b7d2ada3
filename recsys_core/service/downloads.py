"""Keep a generated download alive long enough for the browser to fetch it.

A ``st.download_button`` whose data is a callable (the dashboard's PNG / SVG / PDF / HTML exports
and the run report, rendered only when clicked) stores the rendered file with no session referring
to it, and Streamlit sweeps unreferenced downloads whenever *any* session's script run ends: the
first sweep marks the file, the second deletes it (``MediaFileManager.remove_orphaned_files``). On a
shared server with one session polling a training (``st.fragment(run_every=1.0)`` on the Train and
Trust pages ends a script run every second), a file lived one to two seconds — less with more
sessions — and a browser slowed by a busy machine fetched it too late: the download was cancelled.
:func:`keep_generated_downloads` makes a downloadable file unmarkable for ``grace_s`` seconds after
it is stored, so it survives any number of sweeps in that time and is removed by the first two
after it.
"""

from __future__ import annotations

import time

from streamlit.runtime.media_file_manager import MediaFileKind, MediaFileMetadata

GRACE_SECONDS = 120.0
_ORIGINAL_INIT = MediaFileMetadata.__init__
_ORIGINAL_MARK = MediaFileMetadata.mark_for_delete


def _init(self: MediaFileMetadata, kind: MediaFileKind = MediaFileKind.MEDIA) -> None:
    _ORIGINAL_INIT(self, kind)
    self._stored_at = time.monotonic()


def _mark_for_delete(self: MediaFileMetadata) -> None:
    stored = getattr(self, "_stored_at", None)
    fresh = stored is not None and time.monotonic() - stored < GRACE_SECONDS
    if self.kind == MediaFileKind.DOWNLOADABLE and fresh:
        return  # the browser may still be on its way to fetch it
    _ORIGINAL_MARK(self)


def keep_generated_downloads() -> None:
    """Give every downloadable file ``GRACE_SECONDS`` before a sweep may mark it (idempotent)."""
    MediaFileMetadata.__init__ = _init  # type: ignore[method-assign]
    MediaFileMetadata.mark_for_delete = _mark_for_delete  # type: ignore[method-assign]


def generated_downloads_kept() -> bool:
    return MediaFileMetadata.mark_for_delete is _mark_for_delete
