#!/usr/bin/python3
"""Writes the small torch.save files the torch_zip tests read.

Run with Debian's python3-torch: /usr/bin/python3 make_silence_latent.py
(the real silence_latent.pt is [1, 64, 15000], 3.8 MB, too big to commit;
the reader takes the expected shape as a parameter, so small shapes test
the same code). Every value is chosen so the test can recompute it exactly.
"""
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(here, name)


# [1, 4, 10]: value(c, t) = (c * 10 + t) * 0.25 - 3, exact in float32.
small = torch.arange(40, dtype=torch.float32).reshape(1, 4, 10) * 0.25 - 3
torch.save(small, out("small_1x4x10.pt"))

# [1, 8, 32] seeded random values; the raw little-endian float32 bytes are
# written beside it as the independent reference.
generator = torch.Generator().manual_seed(1234)
rand = torch.randn(1, 8, 32, generator=generator, dtype=torch.float32)
torch.save(rand, out("random_1x8x32.pt"))
with open(out("random_1x8x32.f32"), "wb") as f:
    f.write(rand.numpy().astype("<f4").tobytes())

# Rejected shapes of the same data.
torch.save(small.to(torch.bfloat16), out("bf16_1x4x10.pt"))
torch.save(small.transpose(1, 2), out("transposed_1x10x4.pt"))  # not contiguous
torch.save(small.reshape(-1)[4:].reshape(1, 4, 9), out("offset_1x4x9.pt"))  # storage offset 4
torch.save(small, out("legacy_1x4x10.pt"), _use_new_zipfile_serialization=False)
