#!/usr/bin/env python3
"""Writes the aws_chunked_decode seeds: validly signed aws-chunked bodies for
the fuzz target's fixed signing context (the key, time and seed signature of
AWS's sigv4-streaming example), so mutations start past the signature checks.

Checks itself against AWS's documented first chunk signature first.
Usage: fuzz/seeds/aws_chunked.py OUT_DIR
"""
import base64
import hashlib
import hmac
import sys
import zlib

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DATE, AMZ_DATE, REGION, SERVICE = "20130524", "20130524T000000Z", "us-east-1", "s3"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
SCOPE = f"{DATE}/{REGION}/{SERVICE}/aws4_request"
EMPTY = hashlib.sha256(b"").hexdigest()


def key():
    k = ("AWS4" + SECRET).encode()
    for part in (DATE, REGION, SERVICE, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sign(algorithm, previous, digest_hex, with_empty=True):
    lines = [algorithm, AMZ_DATE, SCOPE, previous]
    if with_empty:
        lines.append(EMPTY)
    lines.append(digest_hex)
    return hmac.new(key(), "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def chunk_sig(previous, data):
    return sign("AWS4-HMAC-SHA256-PAYLOAD", previous, hashlib.sha256(data).hexdigest())


def encode(chunks, trailers=None):
    out, previous = b"", SEED
    for data in chunks + [b""]:
        signature = chunk_sig(previous, data)
        previous = signature
        out += f"{len(data):x};chunk-signature={signature}\r\n".encode() + data
        if data:
            out += b"\r\n"
    if trailers is not None:
        canonical = "".join(f"{n}:{v}\n" for n, v in sorted(trailers))
        signature = sign("AWS4-HMAC-SHA256-TRAILER", previous,
                         hashlib.sha256(canonical.encode()).hexdigest(), with_empty=False)
        for n, v in trailers:
            out += f"{n}:{v}\r\n".encode()
        out += f"x-amz-trailer-signature:{signature}\r\n".encode()
    return out + b"\r\n"


# AWS's example: the first 64 KiB chunk of 'a' signs to this.
assert chunk_sig(SEED, b"a" * 65536) == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"


def crc32(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def sha1(data):
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


def main(out_dir):
    # Byte 0 of a seed: mode = b % 3 (0 unsigned+trailer, 1 signed, 2 signed+trailer),
    # checksum = (b // 3) % 4 (0 none, else CRC32C/CRC64NVME/SHA1 by index),
    # 0x80: no minimum chunk size. Byte 1: the piece size the body is fed in.
    cases = []
    # mode 1 (signed), no checksum, min chunk size off: 0x80 | x with x % 3 == 1, (x//3)%4 == 0
    b = next(v for v in range(0x80, 0x100) if v % 3 == 1 and (v // 3) % 4 == 0)
    cases.append(("signed_two_chunks", b, 7, encode([b"hello ", b"world"])))
    cases.append(("signed_empty", b, 64, encode([])))
    # mode 2 (signed + trailer), checksum SHA1 (index 3), min off
    b = next(v for v in range(0x80, 0x100) if v % 3 == 2 and (v // 3) % 4 == 3)
    body = b"trailer data"
    cases.append(("signed_trailer_sha1", b, 5,
                  encode([body[:6], body[6:]], [("x-amz-checksum-sha1", sha1(body))])))
    # mode 0 (unsigned + trailer), checksum SHA1
    b = next(v for v in range(0x80, 0x100) if v % 3 == 0 and (v // 3) % 4 == 3)
    unsigned = (b"5\r\nhello\r\n6\r\n world\r\n0\r\n"
                + f"x-amz-checksum-sha1:{sha1(b'hello world')}\r\n\r\n".encode())
    cases.append(("unsigned_trailer_sha1", b, 3, unsigned))
    # mode 0 without checksum
    b = next(v for v in range(0x80, 0x100) if v % 3 == 0 and (v // 3) % 4 == 0)
    cases.append(("unsigned_plain", b, 1, b"3\r\nabc\r\n0\r\n\r\n"))
    # CRC32 in a trailer the options do not declare (refused)
    cases.append(("unsigned_undeclared_trailer", b, 16,
                  f"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:{crc32(b'abc')}\r\n\r\n".encode()))
    for name, selector, piece, body in cases:
        with open(f"{out_dir}/{name}", "wb") as f:
            f.write(bytes([selector, piece]) + body)


if __name__ == "__main__":
    main(sys.argv[1])
