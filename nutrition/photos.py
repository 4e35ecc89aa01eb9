"""Meal photo files: what an upload really is, and a clean copy of it.

An upload is judged by its bytes, never by its name or declared type: JPEG, PNG, WebP and HEIC
(ISO-BMFF `ftyp` box with a HEIF/HEVC brand) are accepted. Every accepted photo is decoded
and encoded again from its pixels alone, so nothing of the original file's metadata (EXIF
with GPS position, XMP, comments, ICC profiles, maker notes) reaches storage; the EXIF
orientation is applied to the pixels first. HEIC is decoded with pillow-heif and stored as
JPEG, which every browser shows.

Files live in the private storage alias "meal_photos" (settings.STORAGES); nothing serves it
by URL.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage, storages
from PIL import Image, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

STORAGE_ALIAS = "meal_photos"

# ISO-BMFF brands of HEIF images with HEVC (or generic HEIF) content. AVIF ("avif", "avis")
# shares the container but is not accepted.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})

# What each detected kind is decoded as (Pillow's name) and stored as.
STORED_AS = {
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "png": ("PNG", "image/png", "png"),
    "webp": ("WEBP", "image/webp", "webp"),
    "heic": ("JPEG", "image/jpeg", "jpg"),
}
DECODED_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}

NOT_AN_IMAGE = "This file is not a photo we accept: send a JPEG, PNG, WebP or HEIC image."


def photo_storage() -> Storage:
    return storages[STORAGE_ALIAS]


def sniff(head: bytes) -> str | None:
    """The kind of image the first bytes of a file announce ("jpeg", "png", "webp", "heic"),
    or None. `head` should hold at least the first 64 bytes."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if len(head) >= 16 and head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[:4], "big")
        major = head[8:12]
        compatible = {
            head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)
        }  # after major brand and minor version
        brands = {major, *compatible}
        if major in AVIF_BRANDS:
            return None
        if brands & HEIC_BRANDS or (major in HEIF_GENERIC_BRANDS and not brands & AVIF_BRANDS):
            return "heic"
    return None


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _read_limited(upload, limit: int) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(too_large_message(limit), code="too_large")
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(too_large_message(limit), code="too_large")
    return data


def too_large_message(limit: int) -> str:
    return f"The photo is too large: at most {limit // (1024 * 1024)} MB."


def _to_storable_mode(image: Image.Image, fmt: str) -> Image.Image:
    if fmt == "JPEG":
        if image.mode in ("RGBA", "LA", "P", "PA"):
            image = image.convert("RGBA")
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.getchannel("A"))
            return background
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("P", "PA"):  # a palette may carry transparency
        return image.convert("RGBA")
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image with the same pixels and no `info` (EXIF, XMP, ICC, text chunks)."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def clean_image(upload) -> CleanImage:
    """Check an uploaded file and return a metadata-free re-encoding of it.
    Raises ValidationError (nothing is written anywhere) when it is too large, not one of the
    accepted kinds by content, undecodable, or too many pixels."""
    data = _read_limited(upload, settings.MEAL_PHOTO_MAX_BYTES)
    kind = sniff(data[:64])
    if kind is None:
        raise ValidationError(NOT_AN_IMAGE, code="not_an_image")
    max_pixels = settings.MEAL_PHOTO_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[DECODED_FORMAT[kind]]) as opened:
                # The header alone gives the size: refuse a bomb before decoding it.
                if opened.width * opened.height > max_pixels:
                    raise ValidationError(_too_many_pixels(max_pixels), code="too_many_pixels")
                opened.load()
                image = ImageOps.exif_transpose(opened)
                fmt, content_type, extension = STORED_AS[kind]
                image = _pixels_only(_to_storable_mode(image, fmt))
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(_too_many_pixels(max_pixels), code="too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise ValidationError(
            "This photo could not be read: the file is damaged or not really an image.",
            code="unreadable",
        ) from None
    out = io.BytesIO()
    save_options = {"JPEG": {"quality": 88, "optimize": True}, "WEBP": {"quality": 85}}
    image.save(out, format=fmt, **save_options.get(fmt, {}))
    return CleanImage(
        data=out.getvalue(),
        content_type=content_type,
        extension=extension,
        width=image.width,
        height=image.height,
    )


def _too_many_pixels(limit: int) -> str:
    return f"The photo has too many pixels: at most {limit / 1_000_000:g} megapixels."


def thumbnail_bytes(data: bytes, *, size: int) -> bytes:
    """A JPEG at most `size` px on its longer side, from a stored (already clean) photo."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        thumb = _to_storable_mode(image, "JPEG")
        thumb.thumbnail((size, size))
        out = io.BytesIO()
        _pixels_only(thumb).save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue()
