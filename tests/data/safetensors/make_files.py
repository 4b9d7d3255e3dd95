#!/usr/bin/env python3
"""Writes the small safetensors test files and fuzz seeds (never real weights).

  tests/data/safetensors/          files for the `acefit inspect` CLI tests
  tests/fuzz/corpus/safetensors/   one seed per checklist case CK-01..CK-21,
                                   minimal valid files, public reproducer shapes
  tests/fuzz/corpus/safetensors_index/  index seeds for the fake folder tree the
                                   index fuzzer builds (see safetensors_index_fuzz.cpp)

Run from anywhere: python3 tests/data/safetensors/make_files.py
"""
import json
import os
import random
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus", "safetensors")
INDEX_CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus", "safetensors_index")
U64_MAX = 2**64 - 1


def st(header, data=b"", n=None):
    """8-byte little-endian N, header bytes, data bytes."""
    if isinstance(header, str):
        header = header.encode("utf-8")
    return struct.pack("<Q", len(header) if n is None else n) + header + data


def entry(name, dtype, shape, begin, end):
    return '"%s":{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}' % (
        name, dtype, json.dumps(shape).replace(" ", ""), begin, end)


def obj(*entries):
    return "{" + ",".join(entries) + "}"


def tensors_file(tensors, metadata=None, pad_to=8):
    """A valid file from [(name, dtype, shape, bytes)], header padded with spaces."""
    parts, data = [], b""
    if metadata is not None:
        parts.append('"__metadata__":' + json.dumps(metadata, separators=(",", ":")))
    for name, dtype, shape, raw in tensors:
        parts.append(entry(name, dtype, shape, len(data), len(data) + len(raw)))
        data += raw
    header = "{" + ",".join(parts) + "}"
    if pad_to:
        header += " " * ((-len(header) - 8) % pad_to)
    return st(header, data)


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def bf16(*values):
    return b"".join(struct.pack("<f", v)[2:] for v in values)


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def cli_files():
    rng = random.Random(1234)
    small = [rng.uniform(-1, 1) for _ in range(6)]
    tiny = tensors_file([
        ("decoder.proj.weight", "F32", [2, 3], f32(*small)),
        ("decoder.proj.bias", "BF16", [2], bf16(0.5, -0.25)),
        ("step", "I32", [], struct.pack("<i", 7)),
        ("empty", "F16", [2, 0], b""),
    ], metadata={"format": "pt"})
    write(HERE, "tiny.safetensors", tiny)
    write(HERE, "bad_size_mismatch.safetensors",
          st(obj(entry("a.weight", "F32", [3], 0, 10)), b"\0" * 10))
    write(HERE, "bad_trailing.safetensors", tiny + b"PK\x03\x04")
    # A sharded model folder.
    sharded = os.path.join(HERE, "sharded")
    write(sharded, "model-00001-of-00002.safetensors",
          tensors_file([("layers.0.w", "F32", [2], f32(1, 2))]))
    write(sharded, "model-00002-of-00002.safetensors",
          tensors_file([("layers.1.w", "F32", [2], f32(3, 4)), ("norm", "BF16", [1], bf16(1))]))
    write(sharded, "model.safetensors.index.json", json.dumps({
        "metadata": {"total_size": 18},
        "weight_map": {"layers.0.w": "model-00001-of-00002.safetensors",
                       "layers.1.w": "model-00002-of-00002.safetensors",
                       "norm": "model-00002-of-00002.safetensors"}}, indent=2) + "\n")
    # A folder whose subfolders are model folders of no ACE-Step kind
    # (ACE-Step checkpoints/ folders are tested on synthetic checkpoints).
    ckpt = os.path.join(HERE, "model_folders")
    write(os.path.join(ckpt, "dit"), "model.safetensors",
          tensors_file([("proj_in.weight", "BF16", [2, 2], bf16(1, 2, 3, 4))]))
    write(os.path.join(ckpt, "decoder"), "diffusion_pytorch_model.safetensors",
          tensors_file([("decoder.conv.weight", "F32", [1], f32(0.5))]))


def corpus_files():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    seeds = {}
    u8 = lambda name="x", b=0, e=1: entry(name, "U8", [e - b], b, e)
    seeds["valid_minimal"] = st("{}")
    seeds["valid_one_tensor"] = tensors_file([("w", "F32", [2], f32(1, 2))])
    seeds["valid_metadata"] = tensors_file([("w", "BF16", [1], bf16(1))], {"k": "v"}, pad_to=0)
    seeds["valid_unaligned"] = st(obj(entry("w", "F32", [1], 0, 4)) + " ", f32(1))
    seeds["valid_padding"] = st(obj(u8()) + "      ", b"z")
    for size in range(8):
        seeds["ck01_small_%d" % size] = b"\0" * size
    seeds["ck02_out_of_bounds"] = st(" " * 92, n=1000)
    seeds["ck03_too_large"] = st("{}", n=100_000_001)
    seeds["ck03_n_max"] = st("{}", n=U64_MAX)
    seeds["ck04_ff"] = st(b'{"a\xff":1}')
    seeds["ck04_overlong"] = st(b'{"a\xc0\xaf":1}')
    seeds["ck04_surrogate"] = st(b'{"\xed\xa0\x80":1}')
    for i, h in enumerate(["{", "{}xx", "[]", "1", '"s"', "{}{}", "", '{"a":1,}', "{'a':1}"]):
        seeds["ck05_json_%d" % i] = st(h)
    for i, h in enumerate(["\t{}", "\n{}", "\ufeff{}", "{}\t", "{}\n", "{}\0"]):
        seeds["ck06_space_%d" % i] = st(h)
    seeds["ck07_dup_same"] = st(obj(u8("a"), u8("a")), b"x")
    seeds["ck07_dup_diff"] = st(obj(u8("a"), u8("a", 1, 2)), b"xy")
    seeds["ck07_dup_escaped"] = st(obj(u8("a"), u8("\\u0061", 1, 2)), b"xy")
    seeds["ck08_dup_field"] = st('{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x")
    for i, d in enumerate(['"F128"', '"f32"', '""', "null", "32"]):
        seeds["ck09_dtype_%d" % i] = st('{"w":{"dtype":%s,"shape":[1],"data_offsets":[0,4]}}' % d, b"abcd")
    seeds["ck10_f6"] = st(obj(entry("w", "F6_E2M3", [4], 0, 3)), b"abc")
    for i, shape in enumerate([[2, U64_MAX - 1], [2, 2**63 - 1], [2**32, 2**32],
                               [4194305, 4194305, 211106198978564], [0, U64_MAX, U64_MAX],
                               [U64_MAX, U64_MAX, 0]]):
        seeds["ck11_overflow_%d" % i] = st(obj(entry("x", "F32", shape, 0, 0)))
    for i, s in enumerate(["[-1]", "[2.0]", '["2"]', "[1e400]", "[18446744073709551616]",
                           "[" + ",".join(["1"] * 1000) + "]"]):
        seeds["ck12_shape_%d" % i] = st('{"x":{"dtype":"U8","shape":%s,"data_offsets":[0,1]}}' % s, b"z")
    seeds["ck13_end_before_begin"] = st(obj(entry("x", "U8", [1], 8, 4)))
    seeds["ck14_overlap"] = st(obj(u8("a", 0, 4), u8("b", 2, 6)), b"abcdef")
    seeds["ck14_ten_on_one_span"] = st(obj(*[u8("t%d" % i, 0, 4) for i in range(10)]), b"abcd")
    seeds["ck14_huge_count_header"] = st("{", n=570_000_000)
    # 65 tensors: over the limit of 64 that the fuzz target and the corpus test use.
    seeds["ck14_count_limit"] = st(obj(*[entry("%d" % i, "U8", [0], 0, 0) for i in range(65)]))
    seeds["ck15_span_larger"] = st(obj(entry("a", "F32", [3], 0, 16)), b"\0" * 16)
    seeds["ck15_span_smaller"] = st(obj(entry("a", "F32", [3], 0, 10)), b"\0" * 10)
    seeds["ck15_sub_byte"] = st(obj(entry("a", "F4", [3], 0, 2)), b"\0" * 2)
    valid = tensors_file([("a", "F32", [2], f32(1, 2)), ("b", "U8", [3], b"xyz")])
    seeds["ck16_polyglot"] = valid + b"PK\x03\x04\x14\x00"
    seeds["ck17_cut_1"] = valid[:-1]
    seeds["ck17_cut_tensor"] = valid[:-3]
    seeds["ck18_zero_and_scalar"] = st(obj(entry("s", "I32", [], 0, 4), entry("z", "F32", [2, 0], 4, 4)),
                                       struct.pack("<i", 5))
    seeds["ck19_extra_key"] = st('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}}', b"x")
    seeds["ck19_missing_key"] = st('{"w":{"dtype":"U8","shape":[1]}}', b"x")
    seeds["ck19_metadata_null"] = st('{"__metadata__":null}')
    seeds["ck20_empty_name"] = st(obj(u8("")), b"x")
    seeds["ck20_nul_name"] = st(obj(u8("a\\u0000b")), b"x")
    seeds["ck20_300_name"] = st(obj(u8("n" * 300)), b"x")
    seeds["ck20_2000_name"] = st(obj(u8("n" * 2000)), b"x")
    # Public reproducer shapes (spec 4.1).
    seeds["repro_litert_9255_wrap_to_zero"] = st(obj(entry("w", "F32", [2**62, 4], 0, 0)))
    seeds["repro_sdcpp_1876_product_wrap"] = st(obj(entry("w", "F16", [2**33, 2**31, 2], 0, 0)))
    seeds["repro_fastllm_712_span_larger"] = st(obj(entry("w", "F32", [1], 0, 64)), b"\0" * 64)
    seeds["repro_mlx_3363_over_read"] = st(obj(entry("w", "F32", [16], 0, 4)), b"\0" * 4)
    seeds["repro_imp_1603_unknown_dtype_offsets"] = st('{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,999999]}}')
    seeds["repro_safetensors_401_dup_hole"] = st(obj(u8("a", 0, 1), u8("b", 1, 2), u8("a", 2, 3)), b"xyz")
    for name, data in seeds.items():
        assert len(data) <= 4096, name
        write(CORPUS, name + ".safetensors", data)


def index_corpus():
    if os.path.isdir(INDEX_CORPUS):
        shutil.rmtree(INDEX_CORPUS)
    wm = lambda a: json.dumps({"metadata": {"total_size": 6},
                               "weight_map": {"a": a, "b": "model-2.safetensors",
                                              "c": "model-2.safetensors"}})
    seeds = {
        "valid": wm("model-1.safetensors"),
        "total_size_mismatch": wm("model-1.safetensors").replace('"total_size": 6', '"total_size": 7'),
        "dotdot": wm("../x.safetensors"),
        "absolute": wm("/etc/passwd"),
        "nested_dotdot": wm("nested/../../x.safetensors"),
        "subdir": wm("sub/a.safetensors"),
        "backslash": wm("..\\x.safetensors"),
        "drive": wm("C:x.safetensors"),
        "symlink_sibling": wm("evil.safetensors"),
        "symlink_inside": wm("alias.safetensors"),
        "dangling": wm("dangling.safetensors"),
        "directory": wm("dir.safetensors"),
        "missing": wm("absent.safetensors"),
        "wrong_shard": wm("model-2.safetensors"),
        "not_in_index": '{"weight_map":{"a":"model-1.safetensors","b":"model-2.safetensors"}}',
        "alias_twice": '{"weight_map":{"a":"model-1.safetensors","z":"alias.safetensors"}}',
        "unknown_key": '{"x":[1,{"y":2}],' + wm("model-1.safetensors")[1:],
        "not_object": "[]",
        "no_weight_map": '{"metadata":{}}',
        "dup_key": '{"weight_map":{"a":"model-1.safetensors","a":"model-1.safetensors"}}',
        "too_deep": '{"metadata":{"x":{"y":[1]}},"weight_map":{}}',
        "not_utf8": b'{"weight_map":{"\xc0\xaf":"m.safetensors"}}',
    }
    for name, text in seeds.items():
        write(INDEX_CORPUS, name + ".json", text)


if __name__ == "__main__":
    cli_files()
    corpus_files()
    index_corpus()
