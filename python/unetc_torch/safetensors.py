"""
The safetensors format as src/runtime/io/safetensors.ts writes it: an 8-byte little-endian header
length, the JSON header (padded with spaces to a multiple of 8), then the tensors in name order,
contiguous from offset 0; with `checksums`, metadata "crc32" holds a JSON object from tensor name
to the CRC-32 (8 hex digits) of its stored bytes, verified on every read. Writes are atomic (temp
file in the same folder, fsync, rename, fsync of the folder).
"""
import json
import os
import struct
import zlib

import numpy as np

CHECKSUM_KEY = "crc32"
DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I32": "<i4", "I64": "<i8", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1"}


class SafetensorsError(Exception):
    def __init__(self, source, problem):
        super().__init__(f"{source}: {problem}")
        self.source, self.problem = source, problem


def encode(tensors, metadata=None, checksums=False):
    """bytes of a safetensors file; `tensors` maps names to float32 numpy arrays."""
    names = sorted(tensors)
    arrays = {n: np.ascontiguousarray(tensors[n], dtype="<f4") for n in names}
    header = {}
    meta = dict(metadata or {})
    if checksums:
        meta[CHECKSUM_KEY] = json.dumps({n: f"{zlib.crc32(arrays[n].tobytes()) & 0xFFFFFFFF:08x}" for n in names}, separators=(",", ":"))
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    offset = 0
    for n in names:
        a = arrays[n]
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf8")
    h += b" " * (-len(h) % 8)
    return b"".join([struct.pack("<Q", len(h)), h] + [arrays[n].tobytes() for n in names])


def write_atomic(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def read(path):
    """(tensors as numpy arrays, metadata); checksums verified when the file has them."""
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise SafetensorsError(path, "file not found" if isinstance(e, FileNotFoundError) else f"cannot read ({e})")
    if len(buf) < 8:
        raise SafetensorsError(path, "truncated: no header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise SafetensorsError(path, f"truncated: header of {n} bytes, file of {len(buf)}")
    try:
        header = json.loads(buf[8 : 8 + n].decode("utf8"))
    except ValueError:
        raise SafetensorsError(path, "the header is not JSON; the file is damaged")
    meta = header.pop("__metadata__", {}) or {}
    sums = json.loads(meta[CHECKSUM_KEY]) if CHECKSUM_KEY in meta else None
    base = 8 + n
    out = {}
    for name, info in header.items():
        lo, hi = info["data_offsets"]
        if base + hi > len(buf):
            raise SafetensorsError(path, f'tensor "{name}" runs past the end of the file (truncated)')
        raw = buf[base + lo : base + hi]
        if sums is not None:
            got = f"{zlib.crc32(raw) & 0xFFFFFFFF:08x}"
            if sums.get(name) != got:
                raise SafetensorsError(path, f'tensor "{name}" fails its checksum (crc32 {got}, recorded {sums.get(name)}): the file is damaged')
        dt = DTYPES.get(info["dtype"])
        if dt is None:
            raise SafetensorsError(path, f'tensor "{name}": dtype {info["dtype"]} is not supported')
        out[name] = np.frombuffer(raw, dtype=dt).reshape(info["shape"]).astype(np.float32 if dt[-2] == "f" else dt.lstrip("<"))
    return out, meta
