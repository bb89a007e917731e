"""Headless Chromium for tests that must see a page as a person would: a screenshot and the DOM.

The ``chromium`` fixture (tests/conftest.py) hands out a :class:`Chromium`;
any test (the platform map's, the end-to-end lab's) can also use the
functions here directly.  PNGs are decoded in pure Python (zlib and struct),
so no imaging library is needed.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# src=, href=, xlink:href= with a scheme-ful or protocol-relative address; CSS url() and @import of one.
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|xlink:href|action|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//[^\s"'>]*)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//[^)]*\))|(?:@import\s+["']?(?:url\()?\s*["']?(?:https?:)?//[^;]*)""",
    re.IGNORECASE,
)


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def external_references(page: str) -> list[str]:
    """Every place where ``page`` would load something from elsewhere (empty for a self-contained page)."""
    return [m.group(0) for m in _EXTERNAL.finditer(page)]


@dataclass
class Chromium:
    """``chromium --headless`` with a throw-away profile, so parallel runs never share state."""

    binary: str

    def _run(self, args: list[str], what: str) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory(prefix="hdtest-chromium-") as profile:
            cmd = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", *args]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"chromium did not finish {what} within {TIMEOUT}s: {' '.join(cmd)}") from None
        if proc.returncode != 0:
            raise AssertionError(f"chromium {what} exited {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
        return proc

    def screenshot(self, page: Path | str, out: Path, width: int = 1400, height: int = 1000) -> bytes:
        """A PNG of ``page`` (a path or URL) in a ``width`` x ``height`` window, written to ``out`` and returned."""
        url = page if isinstance(page, str) else page.resolve().as_uri()
        out.unlink(missing_ok=True)
        proc = self._run([f"--window-size={width},{height}", f"--screenshot={out}", url], f"screenshot of {url}")
        if not out.is_file():
            raise AssertionError(f"chromium wrote no screenshot of {url} to {out}:\n{proc.stderr[-3000:]}")
        return out.read_bytes()

    def dump_dom(self, page: Path | str) -> str:
        """The DOM of ``page`` after load, serialised."""
        url = page if isinstance(page, str) else page.resolve().as_uri()
        return self._run(["--dump-dom", url], f"--dump-dom of {url}").stdout


# ---------------------------------------------------------------- PNG, decoded with zlib and struct


@dataclass
class Png:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered scanlines, ``channels`` bytes per pixel

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        start = x * self.channels
        return tuple(self.rows[y][start:start + self.channels])

    def colours(self, step: int = 1) -> set[tuple[int, ...]]:
        """The distinct pixel colours (every ``step``-th pixel of every ``step``-th row)."""
        found: set[tuple[int, ...]] = set()
        c = self.channels
        for row in self.rows[::step]:
            found.update(row[i:i + c] for i in range(0, len(row), c * step))
        return {tuple(colour) for colour in found}


_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # greyscale, RGB, greyscale+alpha, RGBA


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> bytes:
    if kind == 0:
        return bytes(line)
    if kind == 2:
        return bytes((x + p) & 0xFF for x, p in zip(line, prev))
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            line[i] = (line[i] + _paeth(left, prev[i], prev[i - bpp] if i >= bpp else 0)) & 0xFF
        else:
            raise AssertionError(f"PNG: unknown filter type {kind}")
    return bytes(line)


def decode_png(data: bytes) -> Png:
    """Decode an 8-bit, non-interlaced PNG (what Chromium writes); AssertionError for anything else."""
    if not data.startswith(PNG_SIGNATURE):
        raise AssertionError(f"not a PNG: starts with {data[:8]!r}")
    pos, idat, header = len(PNG_SIGNATURE), [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise AssertionError(f"PNG: bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise AssertionError("PNG: no IHDR or no IDAT chunk")
    width, height, depth, colour, _compression, _filter, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise AssertionError(f"PNG: unsupported format (bit depth {depth}, colour type {colour}, interlace {interlace})")
    channels = _CHANNELS[colour]
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise AssertionError(f"PNG: {len(raw)} bytes of image data, expected {height * (stride + 1)}")
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prev = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), prev, channels)
        rows.append(prev)
    return Png(width, height, channels, rows)
