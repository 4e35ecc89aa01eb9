"""What every importer shares: progress and error reporting, devices by source, and batched
writes of measurements through `metrics.services.device_sync` (so validation, de-duplication
and rollups are the metrics app's own)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.db import reset_queries

from metrics import services as metric_services
from metrics.models import Device, HealthMetric

# Errors kept on the job (the count goes on); each names a line, a field and a rule.
MAX_ERRORS = 100
# Measurements per device_sync call (the service accepts up to 5,000).
BATCH_SIZE = 5000
# Progress is written to the job at most once per this many records.
PROGRESS_EVERY = 2000
# Rollups of what an import wrote are recomputed once per this many measurements sent
# (`metrics.services.rollups_deferred`), not after every batch.
ROLLUPS_EVERY = 100_000


class ImportFailed(Exception):
    """The file cannot be imported at all (wrong format, missing columns); the message is
    shown to the user, so it never quotes the file's content."""


class ImportRefused(ImportFailed):
    """The file is beyond the import limits (decompressed size, XML depth or element
    count) or is hostile: the rows read so far are dropped, not stored."""


@dataclass(frozen=True)
class ImportLimits:
    """What one import may read (settings IMPORT_MAX_XML_MB, IMPORT_MAX_XML_DEPTH,
    IMPORT_MAX_XML_ELEMENTS, IMPORT_MAX_XML_CHILDREN)."""

    max_bytes: int
    max_depth: int
    max_elements: int
    max_children: int

    @classmethod
    def from_settings(cls) -> ImportLimits:
        return cls(
            max_bytes=settings.IMPORT_MAX_XML_MB * 1024 * 1024,
            max_depth=settings.IMPORT_MAX_XML_DEPTH,
            max_elements=settings.IMPORT_MAX_XML_ELEMENTS,
            max_children=settings.IMPORT_MAX_XML_CHILDREN,
        )


def too_large(max_bytes: int) -> ImportRefused:
    return ImportRefused(
        f"The file is larger than {max_bytes // (1024 * 1024):,} MB once decompressed "
        "(IMPORT_MAX_XML_MB); it was not imported."
    )


class CappedReader:
    """A binary stream (a file, or a ZIP member decompressed as it is read) that refuses to
    give more than `max_bytes`. `size` is what the file or the ZIP's directory says the
    stream holds: refused up front when above the cap. A ZIP member is cut at its stated
    size by `zipfile` (and fails its CRC check), so a member that lies about it cannot get
    past the cap either; the count here guards every reader alike."""

    def __init__(self, stream: IO[bytes] | None, *, size: int, max_bytes: int) -> None:
        if size > max_bytes:
            raise too_large(max_bytes)
        self.stream = stream
        self.size = size
        self.max_bytes = max_bytes
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.max_bytes - self.read_bytes + 1
        data = self.stream.read(n)
        self.read_bytes += len(data)
        if self.read_bytes > self.max_bytes:
            raise too_large(self.max_bytes)
        return data

    def readline(self, limit: int = -1) -> bytes:
        if limit is None or limit < 0:
            limit = self.max_bytes - self.read_bytes + 1
        data = self.stream.readline(limit)
        self.read_bytes += len(data)
        if self.read_bytes > self.max_bytes:
            raise too_large(self.max_bytes)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self.stream.seek(offset, whence)
        self.read_bytes = min(self.read_bytes, position)
        return position

    def tell(self) -> int:
        return self.stream.tell()

    def estimate(self, report: ImportReport) -> int:
        """The records of the whole stream, from those read and the share of bytes read."""
        if not self.read_bytes or not self.size:
            return report.processed
        return max(report.processed, round(report.processed * self.size / self.read_bytes))


@dataclass
class ImportReport:
    """Counts, capped errors and progress of one import; `on_progress` is called every
    PROGRESS_EVERY records and at the end (the job row, a terminal progress bar)."""

    total: int = 0
    processed: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    unknown_types: Counter = field(default_factory=Counter)
    on_progress: Callable[[ImportReport], None] | None = None
    # Set while the total is not known yet (one-pass readers): called before each report.
    estimate_total: Callable[[ImportReport], int] | None = None
    progress_every: int = PROGRESS_EVERY
    _reported_at: int = 0

    def error(self, *, line: int | None, field: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < getattr(settings, "IMPORT_MAX_ERRORS", MAX_ERRORS):
            self.errors.append({"line": line, "field": field, "message": message})

    def reject(self, *, line: int | None, errors: dict[str, list[str]]) -> None:
        """One row refused, with its messages by field."""
        self.counts["errors"] += 1
        for name, messages in errors.items():
            for message in messages:
                self.error(line=line, field=name, message=str(message))

    def advance(self, n: int = 1) -> None:
        self.processed += n
        if self.processed - self._reported_at >= self.progress_every:
            self.report()

    def report(self) -> None:
        self._reported_at = self.processed
        if self.estimate_total is not None:
            self.total = self.estimate_total(self)
        if self.on_progress is not None:
            self.on_progress(self)

    def summary(self) -> dict[str, Any]:
        return {
            "created": self.counts["created"],
            "updated": self.counts["updated"],
            "duplicates": self.counts["duplicates"],
            "rows_with_errors": self.counts["errors"],
            "skipped": dict(sorted(self.skipped.items())),
            "unknown_types": dict(sorted(self.unknown_types.items())),
        }


def _address_space() -> int | None:
    """This process's virtual memory size in bytes (Linux), or None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def memory_limit(megabytes: int) -> Iterator[None]:
    """While the block runs, the process may grow its address space by at most `megabytes`
    (RLIMIT_AS, Linux): an allocation past it raises MemoryError instead of the machine swapping or
    the kernel killing the worker. The previous limit is restored after. 0, or no /proc: no
    limit."""
    current = _address_space() if megabytes > 0 else None
    if current is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


ZIP_MAGIC = b"PK\x03\x04"


def is_zip(fileobj: IO[bytes]) -> bool:
    """Does the (seekable) upload start like a ZIP archive? It is left rewound."""
    fileobj.seek(0)
    head = fileobj.read(len(ZIP_MAGIC))
    fileobj.seek(0)
    return head == ZIP_MAGIC


def stable_id(prefix: str, *parts: str) -> str:
    """An external_id from the fields that identify a record, so a re-import finds it."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{prefix}:{digest}"


def guess_device_type(name: str, model: str = "", metric_type: str = "") -> str:
    """Device type from a source's name (and Apple's device description): iPhone, Apple
    Watch, iPad; Apple's own "Health" app and "manual" sources are manual entry; other
    sources are third-party scales for body measurements and wearables otherwise."""
    text = f"{name} {model}".lower()
    if "apple watch" in text or "model:watch" in text:
        return Device.Type.APPLE_WATCH
    if "iphone" in text:
        return Device.Type.IPHONE
    if "ipad" in text:
        return Device.Type.IPAD
    if name.strip().lower() in {"", "health", "manual", "manual entry"}:
        return Device.Type.MANUAL_ENTRY
    if metric_type in {"weight", "body_fat"}:
        return Device.Type.THIRD_PARTY_SCALE
    return Device.Type.THIRD_PARTY_WEARABLE


class DeviceResolver:
    """The user's devices by identifier, created on first sight (default priorities)."""

    def __init__(self, user) -> None:
        self.user = user
        self._by_identifier = {d.identifier: d for d in Device.objects.filter(user=user)}

    def find(self, identifier: str) -> Device | None:
        return self._by_identifier.get(identifier[:255])

    def get(
        self, *, identifier: str, name: str, device_type: str, priority: int | None = None
    ) -> Device:
        identifier = identifier[:255]
        device = self._by_identifier.get(identifier)
        if device is None:
            device = metric_services.device_create(
                user=self.user,
                device_type=device_type,
                name=(name or identifier)[:100],
                identifier=identifier,
                priority=priority,
            )
            self._by_identifier[identifier] = device
        return device


@dataclass
class _Buffer:
    device: Device
    samples: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    external_ids: set[str] = field(default_factory=set)


class MetricBatcher:
    """Collects measurements per device and writes each device's batch through
    `device_sync` (validation, external-id upserts, duplicate detection, rollups). Each
    batch has an idempotency key of the job and its sequence number, so a task that is run
    again replays what was already committed instead of writing it twice."""

    def __init__(
        self,
        *,
        user,
        report: ImportReport,
        key_prefix: str,
        batch_size: int = BATCH_SIZE,
        content_id_prefix: str = "",
    ) -> None:
        self.user = user
        self.report = report
        self.key_prefix = key_prefix
        self.batch_size = batch_size
        # External ids with this prefix are hashes of the sample's content (`stable_id`, made
        # by the Apple Health and CSV importers): a stored one means an identical stored
        # sample, counted as a duplicate without being sent again (a re-import of a large
        # export is mostly such samples). Ids given by the file itself are always sent.
        self.content_id_prefix = content_id_prefix
        self._buffers: dict[int, _Buffer] = {}
        self._sequence = 0
        # Devices that held no content-hash ids when first seen: nothing of theirs can be
        # stored already but what this import sent (which device_sync finds itself).
        self._fresh: set[int] = set()
        self._deferred = None
        self._rollups = contextlib.ExitStack()
        self._unrolled = 0

    def add(self, device: Device, sample: dict[str, Any], line: int | None) -> None:
        buffer = self._buffers.get(device.pk)
        if buffer is None:
            buffer = self._buffers[device.pk] = _Buffer(device)
            if self.content_id_prefix and not (
                HealthMetric.objects.filter(
                    user=self.user,
                    device=device,
                    external_id__startswith=self.content_id_prefix,
                ).exists()
            ):
                self._fresh.add(device.pk)
        external_id = sample.get("external_id")
        if external_id and isinstance(external_id, str):
            if external_id in buffer.external_ids:
                # The same record twice in the file (Apple repeats blood pressure readings
                # inside their correlation): stored once.
                self.report.counts["duplicates"] += 1
                return
            buffer.external_ids.add(external_id)
        buffer.samples.append(sample)
        buffer.lines.append(line)
        if len(buffer.samples) >= self.batch_size:
            self._flush(buffer)

    def close(self) -> None:
        for buffer in list(self._buffers.values()):
            self._flush(buffer)

    def __enter__(self) -> MetricBatcher:
        self._deferred = self._rollups.enter_context(metric_services.rollups_deferred())
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Store what was read before the file turned out unreadable further on; after a
        # refusal (beyond the limits) or any other error (the database's) leave it. The
        # rollups of what was stored are recomputed either way.
        with self._rollups:
            if exc_type is None or (
                issubclass(exc_type, ImportFailed) and not issubclass(exc_type, ImportRefused)
            ):
                self.close()

    def _drop_stored(self, buffer: _Buffer) -> None:
        ids = [i for i in buffer.external_ids if i.startswith(self.content_id_prefix)]
        if not ids:
            return
        stored = set(
            HealthMetric.objects.filter(user=self.user, device=buffer.device, external_id__in=ids)
            .exclude(external_id="")
            .values_list("external_id", flat=True)
        )
        if not stored:
            return
        kept = [
            (sample, line)
            for sample, line in zip(buffer.samples, buffer.lines, strict=True)
            if sample.get("external_id") not in stored
        ]
        self.report.counts["duplicates"] += len(buffer.samples) - len(kept)
        buffer.samples = [sample for sample, _ in kept]
        buffer.lines = [line for _, line in kept]

    def _flush(self, buffer: _Buffer) -> None:
        if self.content_id_prefix and buffer.device.pk not in self._fresh:
            self._drop_stored(buffer)
        if not buffer.samples:
            buffer.external_ids = set()
            return
        self._sequence += 1
        body = metric_services.device_sync(
            user=self.user,
            device=buffer.device,
            samples=buffer.samples,
            idempotency_key=f"{self.key_prefix}:{buffer.device.pk}:{self._sequence}",
        ).body
        counts = body["counts"]
        for name in ("created", "updated", "duplicates", "errors"):
            self.report.counts[name] += counts[name]
        for error in body["errors"]:
            self.report.error(
                line=buffer.lines[error["index"]], field=error["field"], message=error["message"]
            )
        self._unrolled += len(buffer.samples)
        buffer.samples, buffer.lines, buffer.external_ids = [], [], set()
        if self._deferred is not None and self._unrolled >= ROLLUPS_EVERY:
            self._deferred.flush()
            self._unrolled = 0
        # With DEBUG on, Django keeps every query (with its parameters) in memory.
        reset_queries()
