"""An image plugin in Python that paints a gradient whose colours come from the prompt: a
working skeleton that shows what the host expects (a PNG of exactly the size asked for, usage
in prompt characters and images, a cost), ready to have the painting replaced by a real model
or an image API (reached over wasi:http like the python-llm template, with the
`image-http-provider` world).

Settings, read from the environment the host grants (see README.md):
  IMAGE_USD_PER_IMAGE  price, for the reported cost (default 0)

Build: ./build.sh (componentize-py -d wit -w image-provider componentize app -o python-image.wasm)
"""

import os
import struct
import zlib

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.image import GenerateRequest, GenerateResponse
from wit_world.imports.types import Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit

# The largest side painted, so a request cannot ask for gigabytes of pixels.
MAX_SIDE = 4096


class Image(exports.Image):
    def generate(self, request: GenerateRequest) -> GenerateResponse:
        width, height = request.width, request.height
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise Err(ProviderError(ErrorKind.INVALID_REQUEST, False, f"cannot paint {width}x{height}", None))
        # FNV-1a of the prompt: the same prompt always gives the same picture.
        seed = 0xCBF29CE484222325
        for byte in request.prompt.encode():
            seed = ((seed ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        red, green, blue = seed & 0xFF, (seed >> 8) & 0xFF, (seed >> 16) & 0xFF
        # One colour per diagonal: pixel (x, y) takes diagonal x + y, so each row is a slice.
        diagonal = bytearray()
        for step in range(width + height):
            mix = step / (width + height)
            diagonal += bytes(int(channel * (1 - mix) + 127.5 * mix) for channel in (red, green, blue))
        # Each row starts with PNG filter type 0 (none).
        rows = b"".join(b"\x00" + diagonal[3 * y : 3 * (y + width)] for y in range(height))
        price = float(os.environ.get("IMAGE_USD_PER_IMAGE", "0"))
        return GenerateResponse(
            png=png(width, height, rows),
            width=width,
            height=height,
            revised_prompt=None,
            usage=Usage(Quantity(len(request.prompt), UsageUnit.CHARACTERS), Quantity(1, UsageUnit.IMAGES)),
            cost=Cost(round(price * 1_000_000), "USD"),
        )


def png(width: int, height: int, rows: bytes) -> bytes:
    """An 8-bit RGB PNG of filtered `rows`."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
