#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the fuzzers' seed corpus (tests/fuzz/corpus/<format>/): small valid files of every variant sinter reads.
Run from anywhere: python3 tests/fuzz/make_seeds.py"""
import gzip
import json
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(fmt, name, data):
    os.makedirs(os.path.join(here, fmt), exist_ok=True)
    with open(os.path.join(here, fmt, name), "wb") as f:
        f.write(data)


# IDX: 2 images of 3x3 and 2 labels, plain and gzip (mtime 0, so the bytes never change)
images = struct.pack(">IIII", 0x0803, 2, 3, 3) + bytes(range(0, 18 * 14, 14))
labels = struct.pack(">II", 0x0801, 2) + bytes([7, 1])
write("idx", "images.idx", images)
write("idx", "labels.idx", labels)
write("idx", "images.idx.gz", gzip.compress(images, mtime=0))
write("idx", "labels.idx.gz", gzip.compress(labels, mtime=0))


# safetensors: a Linear(3, 2) state dict, and an SGD-with-momentum state for it
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, values) in tensors.items():
        fmt = {"F32": "f", "F64": "d", "I64": "q"}[dtype]
        raw = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


write("safetensors", "linear.safetensors",
      safetensors({"weight": ("F32", [2, 3], [0.5, -1, 2, 0.25, 3, -0.5]), "bias": ("F32", [2], [0.1, -0.2])},
                  {"format": "pt"}))
write("safetensors", "sgd_state.safetensors",
      safetensors({"state.0.momentum_buffer": ("F32", [2, 3], [1, 2, 3, 4, 5, 6]),
                   "state.1.momentum_buffer": ("F32", [2], [7, 8])}))
write("safetensors", "other_dtypes.safetensors",
      safetensors({"a": ("F64", [2], [1.5, -2]), "b": ("I64", [1, 2], [3, 4]), "c": ("F32", [], [9])}))


# .npy: each element type sinter reads, both orders, and a version 2.0 header
def npy(descr, shape, values, fortran=False, version=(1, 0)):
    fmt = {"<f4": "f", "<f8": "d", "<i8": "q", "<i4": "i", "|u1": "B"}[descr]
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", "".join("%d, " % s for s in shape) if len(shape) != 1 else "%d," % shape[0])
    len_bytes = 2 if version[0] == 1 else 4
    pad = -(6 + 2 + len_bytes + len(d) + 1) % 64
    h = (d + " " * pad + "\n").encode()
    return (b"\x93NUMPY" + bytes(version) + struct.pack("<H" if len_bytes == 2 else "<I", len(h)) + h +
            struct.pack("<%d%s" % (len(values), fmt), *values))


write("npy", "f4.npy", npy("<f4", [2, 3], [0, 1, 2, 3, 4, 5]))
write("npy", "f8_fortran.npy", npy("<f8", [2, 3], [0, 3, 1, 4, 2, 5], fortran=True))
write("npy", "i8_scalar.npy", npy("<i8", [], [42]))
write("npy", "i4_vector.npy", npy("<i4", [4], [1, -2, 3, -4]))
write("npy", "v2_f4.npy", npy("<f4", [1, 2, 1], [1.5, 2.5], version=(2, 0)))
write("npy", "u1_unsupported.npy", npy("|u1", [3], [1, 2, 3]))
