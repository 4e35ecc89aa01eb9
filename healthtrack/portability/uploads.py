"""Upload limits shared by the import page and the import API (both import this module)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


def max_upload_bytes() -> int:
    return int(settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024)


class LimitedUploadHandler(FileUploadHandler):
    """Stops reading a file part once it passes the limit (a body without Content-Length, or
    one that lies), so an oversized upload never fills the disk."""

    def __init__(self, request, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None
