#!/usr/bin/env python3
"""Packs PNG files into an Apple .icns file, for machines without png2icns or iconutil.

Usage: make_icns.py OUT.icns TYPE=FILE.png ...   (e.g. ic07=128.png ic08=256.png)

An .icns file is the magic b"icns" and the total length (big-endian u32), then entries of a
four-byte type, the entry's length including its 8-byte header, and the data. Since macOS 10.7
the types below hold a PNG file as is.
"""

import struct
import sys

# Type -> edge in pixels, to catch a file in the wrong slot.
SIZES = {
    "ic11": 32,  # 16x16@2x
    "ic12": 64,  # 32x32@2x
    "ic07": 128,
    "ic13": 256,  # 128x128@2x
    "ic08": 256,
    "ic14": 512,  # 256x256@2x
    "ic09": 512,
    "ic10": 1024,  # 512x512@2x
}

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    if not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, specs = argv[1], argv[2:]
    body = b""
    for spec in specs:
        kind, _, path = spec.partition("=")
        if kind not in SIZES:
            raise SystemExit(f"unknown icns type {kind!r}; known: {', '.join(SIZES)}")
        with open(path, "rb") as f:
            data = f.read()
        width, height = png_size(data)
        if (width, height) != (SIZES[kind], SIZES[kind]):
            raise SystemExit(f"{path} is {width}x{height}, {kind} needs {SIZES[kind]}x{SIZES[kind]}")
        body += kind.encode("ascii") + struct.pack(">I", 8 + len(data)) + data
    with open(out, "wb") as f:
        f.write(b"icns" + struct.pack(">I", 8 + len(body)) + body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
