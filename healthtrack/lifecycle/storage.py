"""The archive's local storage (the embedded default): files are replaced atomically."""

from __future__ import annotations

import os
import tempfile

from django.core.files.storage import FileSystemStorage


class ArchiveFileSystemStorage(FileSystemStorage):
    """A FileSystemStorage whose save replaces a file of the same name in one step (written
    beside it, then renamed over it), like an S3 PUT: a reader or a crash sees the old file
    or the new one, never a half-written one, and the name stays the one asked for."""

    def get_available_name(self, name, max_length=None):
        return name

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, mode=self.directory_permissions_mode or 0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in content.chunks():
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, self.file_permissions_mode or 0o600)
            os.replace(temporary, full_path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return name
