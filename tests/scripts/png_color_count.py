#!/usr/bin/python3
"""Prints how many pixels of a PNG file have exactly the color RRGGBB.

Usage: png_color_count.py FILE RRGGBB

For tests that check what a browser drew. Reads 8-bit RGB or RGBA images
without interlacing (what Chromium's --screenshot writes); exits 2 on others.
"""
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def rows(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("not a PNG: " + path)
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace != 0:
        print("unsupported PNG: depth %d color type %d interlace %d" % (depth, color, interlace),
              file=sys.stderr)
        sys.exit(2)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + paeth(a, b, c)) & 0xFF
        yield line, bpp
        prev = line


def main():
    path, color = sys.argv[1], bytes.fromhex(sys.argv[2])
    count = 0
    for line, bpp in rows(path):
        for x in range(0, len(line), bpp):
            if line[x:x + 3] == color:
                count += 1
    print(count)


if __name__ == "__main__":
    main()
