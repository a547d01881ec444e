"""Reading one image safely: decode checks, RGB conversion, and fitting it to the storage size."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
# A histology image above this many pixels is refused before it is decoded. Checked here, from the header,
# rather than by lowering PIL's process-wide Image.MAX_IMAGE_PIXELS (which would change it for every caller).
MAX_PIXELS = 50_000_000
BACKGROUND = 255  # edge patches are padded with white, the colour of the slide's background


class ImageProblem(Exception):
    """Why one file cannot be used; the index reports it as a skip."""


@dataclass(frozen=True)
class ImageInfo:
    """An image's size in pixels and its PIL colour mode."""

    width: int
    height: int
    mode: str


def inspect_image(path: Path) -> ImageInfo:
    """Decode the whole file once and return its size and colour mode, or raise ImageProblem."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ImageProblem(f"not an image file (suffix {path.suffix or 'none'!r})")
    if path.stat().st_size == 0:
        raise ImageProblem("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise Image.DecompressionBombError(f"{img.width}x{img.height} pixels")
                img.load()
                return ImageInfo(img.width, img.height, img.mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(f"too large to decode safely (over {MAX_PIXELS:,} pixels): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageProblem("not a decodable image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageProblem(f"truncated or corrupt image: {exc}") from exc


def load_rgb(path: Path) -> np.ndarray:
    """The image as an (H, W, 3) uint8 array; grayscale, RGBA and palette images become RGB."""
    with Image.open(path) as img:
        flat: Image.Image = img
        if img.mode == "RGBA" or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (BACKGROUND,) * 4)
            flat = Image.alpha_composite(white, rgba)
        return np.asarray(flat.convert("RGB"), dtype=np.uint8)


def fit_patch(pixels: np.ndarray, size: int) -> np.ndarray:
    """A patch smaller than size x size is padded with white at the bottom and right (its cut edge)."""
    h, w = pixels.shape[:2]
    if h > size or w > size:
        return resize(pixels, size)
    out = np.full((size, size, 3), BACKGROUND, dtype=np.uint8)
    out[:h, :w] = pixels
    return out


def resize(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resize to size x size with area averaging (the whole image, aspect not kept, as the paper does)."""
    if pixels.shape[:2] == (size, size):
        return pixels
    img = Image.fromarray(pixels).resize((size, size), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)
