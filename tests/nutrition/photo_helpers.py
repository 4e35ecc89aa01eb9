"""Images made in the tests (Pillow, pillow-heif) and a private storage under tmp_path."""

from __future__ import annotations

import io

import pillow_heif
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

pillow_heif.register_heif_opener()

MARKER = "SECRET-MARKER-42"
# 52°22'10"N 4°53'0"E
GPS = {1: "N", 2: (52.0, 22.0, 10.0), 3: "E", 4: (4.0, 53.0, 0.0)}


def exif_with_gps(*, orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = MARKER  # ImageDescription
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update(GPS)
    return exif


def image_bytes(
    fmt: str,
    *,
    size: tuple[int, int] = (64, 48),
    exif: Image.Exif | None = None,
    mode: str = "RGB",
    noise: bool = False,
) -> bytes:
    if noise:
        image = Image.frombytes(mode, size, _noise(size[0] * size[1] * len(mode)))
    else:
        image = Image.new(mode, size, (200, 60, 40) if mode == "RGB" else (200, 60, 40, 128))
    out = io.BytesIO()
    options = {"exif": exif} if exif is not None else {}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _noise(n: int) -> bytes:
    # Deterministic, incompressible enough (a linear congruential sequence).
    state, out = 12345, bytearray(n)
    for i in range(n):
        state = (1103515245 * state + 12345) & 0x7FFFFFFF
        out[i] = state >> 16 & 0xFF
    return bytes(out)


def upload(data: bytes, name: str = "meal.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
