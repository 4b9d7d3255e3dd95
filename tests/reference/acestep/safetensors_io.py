"""Minimal safetensors reader/writer (no external dependency)."""
import json
import struct

import numpy as np
import torch

_NP_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("u1"),
}


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def load(path, to_float32=True):
    """Returns {name: torch.Tensor}. BF16/F16 are widened to float32."""
    header, base = read_header(path)
    with open(path, "rb") as f:
        blob = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        shape = info["shape"]
        begin, end = info["data_offsets"]
        raw = blob[base + begin: base + end]
        if dtype == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view("<f4")
        else:
            arr = np.frombuffer(raw, dtype=_NP_DTYPES[dtype])
            if to_float32 and dtype in ("F16", "F64"):
                arr = arr.astype(np.float32)
        t = torch.from_numpy(np.array(arr, copy=True)).reshape(shape)
        out[name] = t
    return out


def save(path, tensors, metadata=None):
    """Writes F32 (floating) and I64 (integer/bool) tensors, keys sorted."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu()
            if t.is_floating_point():
                arr = t.to(torch.float32).contiguous().numpy().astype("<f4")
                dt = "F32"
            else:
                arr = t.to(torch.int64).contiguous().numpy().astype("<i8")
                dt = "I64"
        else:
            raise TypeError(f"{name}: not a tensor")
        data = arr.tobytes(order="C")
        header[name] = {"dtype": dt, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    hjson = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)
