// The reference for acefit-bench's tokenizer row: encodes a text file with
// @lenml/tokenizers (the same Qwen3 files) and prints one JSON line with the
// median time of `repetitions` encodes and the ids' count and checksum, so
// the bench can compare both speed and output. Usage:
//   node tests/reference/tokenizer_speed.mjs TOKENIZER_DIR TEXT_FILE [REPETITIONS]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "node", "package.json"));
const { TokenizerLoader } = require("@lenml/tokenizers");

const [dir, textPath, repetitionsArg] = process.argv.slice(2);
const tokenizerJSON = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const tokenizerConfig = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
const text = readFileSync(textPath, "utf8");
const repetitions = Number(repetitionsArg ?? 5);

let ids = tokenizer.encode(text, { add_special_tokens: false });  // warm-up
const times = [];
for (let i = 0; i < repetitions; ++i) {
  const start = process.hrtime.bigint();
  ids = tokenizer.encode(text, { add_special_tokens: false });
  times.push(Number(process.hrtime.bigint() - start) / 1e9);
}
times.sort((a, b) => a - b);
let checksum = 0;
for (const id of ids) checksum = (checksum * 31 + id) % 1000000007;
console.log(JSON.stringify({ seconds: times[Math.floor(times.length / 2)], tokens: ids.length, checksum }));
