// The web UI in headless Chromium (Debian's chromium), driven by
// playwright-core: for each simulated GPU size, `acefit serve` on tiny
// checkpoints, the page's adaptive defaults against that tier of the tier
// table, the memory chart and tier map, the fallback shown for a duration
// over the tier's limit; at one size a generation through the UI to a
// playable audio element of the requested length, and a cancelled one.
// Screenshots go to the artifacts folder.
//
// Usage: node ui_test.mjs --acefit BIN --tier-table FILE --artifacts DIR
//          [--sizes 4,8,16,24] [--generate-at 24] [--docs-screenshot FILE]
// Exit 77 (skip) when playwright-core (scripts/fetch-browser-test) or
// chromium is missing, unless ACEFIT_TEST_REQUIRE_BROWSER=1.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WHOLE_TEST_MS = 180_000;
const STEP_MS = 60_000;
const SKIP = 77;

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback === undefined) {
    console.error(`ui_test: ${name} is required`);
    process.exit(2);
  }
  return fallback;
}

const acefit = path.resolve(option("--acefit"));
const tierTable = JSON.parse(fs.readFileSync(option("--tier-table"), "utf8"));
const artifacts = path.resolve(option("--artifacts"));
const sizes = option("--sizes", "4,8,16,24").split(",").map(Number);
const generateAt = Number(option("--generate-at", "24"));
const docsScreenshot = option("--docs-screenshot", "");
const chromiumPath = process.env.ACEFIT_CHROMIUM || "/usr/bin/chromium";

function skipOrFail(why) {
  if (process.env.ACEFIT_TEST_REQUIRE_BROWSER === "1") {
    console.error(`FAIL: ${why}`);
    process.exit(1);
  }
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}

const playwrightEntry = path.join(HERE, "node_modules", "playwright-core", "index.mjs");
if (!fs.existsSync(playwrightEntry)) skipOrFail("playwright-core is not installed (scripts/fetch-browser-test)");
if (!fs.existsSync(chromiumPath)) skipOrFail(`${chromiumPath} is missing (apt-get install chromium)`);
const { chromium } = await import(playwrightEntry);

fs.mkdirSync(artifacts, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), "acefit-browser-"));
const servers = new Set();
let browser = null;
const started = Date.now();

function cleanUp() {
  for (const child of servers) child.kill("SIGKILL");
  fs.rmSync(work, { recursive: true, force: true });
}
process.on("exit", cleanUp);
const wholeTimer = setTimeout(() => {
  console.error(`FAIL: the whole test ran over ${WHOLE_TEST_MS / 1000} s`);
  process.exit(1);
}, WHOLE_TEST_MS);

let passed = 0;
let failed = 0;

function check(condition, what) {
  if (!condition) throw new Error(what);
}

function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: ${a}, expected ${e}`);
}

async function step(name, body, timeoutMs = STEP_MS) {
  const t0 = Date.now();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`over ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([body(), timeout]);
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    return true;
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// The tier a GPU of `gib` falls in: the last whose lower bound it reaches.
function tierFor(gib) {
  let tier = null;
  for (const t of tierTable.tiers) if (gib >= t.min_memory_gib) tier = t;
  return tier;
}

const lmSize = (name) => (/(\d+(?:\.\d+)?B)$/.exec(name) || [null, name])[1];

// `acefit serve` on a free port; resolves to its base URL.
function startServer(gib, apiKey) {
  const env = Object.assign({}, process.env, { MAX_CUDA_VRAM: String(gib), ACEFIT_DEVICE: "sim" });
  delete env.ACESTEP_API_KEY;
  if (apiKey) env.ACESTEP_API_KEY = apiKey;
  delete env.ACESTEP_DEVICE;
  const out = path.join(work, `out-${gib}${apiKey ? "-key" : ""}`);
  const child = spawn(acefit, ["serve", "--host", "127.0.0.1", "--port", "0", "--checkpoints",
    path.join(work, "ck"), "--output-dir", out], { env, stdio: ["ignore", "pipe", "pipe"] });
  servers.add(child);
  const log = fs.createWriteStream(path.join(artifacts, `server-${gib}gb${apiKey ? "-key" : ""}.log`));
  child.stderr.pipe(log);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no 'listening on' and 'ready' lines within 30 s")), 30_000);
    child.on("exit", (code) => reject(new Error(`acefit serve exited with ${code} (see server-${gib}gb.log)`)));
    let url = null;
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      log.write(line + "\n");
      const m = /acefit serve: listening on (http:\/\/\S+)/.exec(line);
      if (m) url = m[1].replace(/\/$/, "");
      // The page is opened once the warm-up ended (the models are loaded).
      if (url && line.startsWith("acefit serve: ready")) {
        clearTimeout(timer);
        resolve({ url, child });
      }
    });
  });
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    servers.delete(child);
    return;
  }
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  servers.delete(child);
}

const sel = (page, id) => page.locator(`#${id}`);

async function options(page, id) {
  return page.$$eval(`#${id} option`, (list) => list.map((o) => o.value).filter((v) => v !== ""));
}

async function waitPlan(page) {
  await page.waitForFunction(() => document.getElementById("memory-chart").dataset.state === "ready");
}

async function checkDefaults(page, gib, tier) {
  await step(`${gib} GB: ${tier.name} LM checkbox`, async () => {
    const hasLm = tier.lm_models.length > 0;
    same(await sel(page, "init-lm").isChecked(), tier.init_lm_default && hasLm, "init-lm checked");
    same(await sel(page, "init-lm").isDisabled(), !hasLm, "init-lm disabled");
  });
  await step(`${gib} GB: ${tier.name} LM models and backends`, async () => {
    const models = await options(page, "lm-model");
    same(models.map(lmSize), tier.lm_models, "lm-model options");
    if (tier.recommended_lm) same(lmSize(await sel(page, "lm-model").inputValue()), tier.recommended_lm, "lm-model selected");
    same((await options(page, "lm-backend")).sort(), [...tier.allowed_backends].sort(), "lm-backend options");
    same(await sel(page, "lm-backend").inputValue(), tier.recommended_backend, "lm-backend selected");
  });
  await step(`${gib} GB: ${tier.name} offload, quantization, compile`, async () => {
    same(await sel(page, "offload").inputValue(), tier.offload, "offload");
    same(await sel(page, "quantization").inputValue(), tier.quantization || "none", "quantization");
    same(await sel(page, "compile").isChecked(), true, "compile");
  });
  await step(`${gib} GB: ${tier.name} duration and batch maxima`, async () => {
    same(Number(await sel(page, "duration").getAttribute("max")), tier.max_duration_without_lm_s, "duration max");
    same(Number(await sel(page, "batch").getAttribute("max")), tier.max_batch_without_lm, "batch max");
    if (tier.lm_models.length > 0) {
      await sel(page, "thinking").check();
      same(Number(await sel(page, "duration").getAttribute("max")), tier.max_duration_with_lm_s, "duration max with thinking");
      same(Number(await sel(page, "batch").getAttribute("max")), tier.max_batch_with_lm, "batch max with thinking");
      await sel(page, "thinking").uncheck();
    } else {
      same(await sel(page, "thinking").isDisabled(), true, "thinking disabled without an LM");
    }
  });
  await step(`${gib} GB: memory chart and tier map`, async () => {
    await waitPlan(page);
    const tags = await page.$$eval("#memory-chart rect.seg", (list) => [...new Set(list.map((r) => r.dataset.tag))]);
    check(tags.includes("weights") && tags.includes("activations"), `stacked parts ${JSON.stringify(tags)}`);
    check((await page.locator("#memory-chart g.stage").count()) >= 1, "no stage bars");
    check((await page.locator("#budget-line").count()) === 1, "no budget line");
    same(await page.locator("#tier-map tbody tr").count(), tierTable.tiers.length, "tier map rows");
    same(await page.locator('#tier-map tr[aria-current="true"]').getAttribute("data-tier"), tier.name, "highlighted tier");
  });
  // The API takes durations up to 600 s and batches up to 8: a value over
  // the tier's maximum within those, which the server clamps.
  const over = tier.max_duration_without_lm_s < 600
    ? { id: "duration", label: "duration (s)", max: tier.max_duration_without_lm_s, asked: 600, reset: "30" }
    : tier.max_batch_without_lm < 8
      ? { id: "batch", label: "batch", max: tier.max_batch_without_lm, asked: 8, reset: "1" }
      : null;
  if (over) {
    await step(`${gib} GB: a ${over.id} over the tier's maximum shows the server's fallback`, async () => {
      await sel(page, over.id).fill(String(over.asked));
      const text = `${over.label}: ${over.max} instead of ${over.asked}`;
      await page.waitForFunction((t) => [...document.querySelectorAll("#plan-warnings li.fallback")]
        .some((li) => li.textContent.includes(t)), text);
      const warnings = await page.locator("#plan-warnings li.warning").allTextContents();
      check(warnings.some((w) => /clamp/i.test(w)), `no clamping warning in ${JSON.stringify(warnings)}`);
      await sel(page, over.id).fill(over.reset);
      await waitPlan(page);
    });
  }
  await step(`${gib} GB: an option the server does not take is reported, not lost`, async () => {
    // Any answer (the plan, or the server's error naming the field) must
    // reach the page; the chart state says which.
    await sel(page, "offload").selectOption(tier.offload === "none" ? "cpu" : "none");
    await page.waitForFunction(() => ["ready", "error"].includes(document.getElementById("memory-chart").dataset.state));
    check((await sel(page, "plan-status").textContent()).trim() !== "", "no plan status");
    await sel(page, "offload").selectOption(tier.offload);
    await waitPlan(page);
  });
}

async function generation(page, gib) {
  await step(`${gib} GB: a 10 s generation plays back`, async () => {
    await sel(page, "caption").fill("warm lo-fi piano");
    await sel(page, "instrumental").check();
    await sel(page, "duration").fill("10");
    await sel(page, "batch").fill("2");
    await sel(page, "audio-format").selectOption("wav");
    await sel(page, "generate").click();
    await page.waitForFunction(() => ["succeeded", "failed", "cancelled"].includes(
      document.getElementById("job-status").dataset.state), null, { timeout: 90_000 });
    same(await sel(page, "job-status").getAttribute("data-state"), "succeeded",
      `job state (${await sel(page, "job-status").textContent()})`);
    same(await page.locator("#results audio").count(), 2, "audio elements");
    for (const i of [0, 1]) {
      const audio = await page.evaluate(async (id) => {
        const a = document.getElementById(id);
        if (a.readyState < 2) {
          await new Promise((resolve, reject) => {
            a.addEventListener("canplay", resolve, { once: true });
            a.addEventListener("error", () => reject(new Error("audio error " + (a.error && a.error.code))), { once: true });
          });
        }
        await a.play();
        a.pause();
        return { duration: a.duration, error: a.error };
      }, `audio-${i}`);
      check(audio.error === null, `audio-${i} error`);
      check(Math.abs(audio.duration - 10) <= 0.1, `audio-${i} lasts ${audio.duration} s, expected 10 s`);
      const link = sel(page, `download-${i}`);
      check((await link.getAttribute("download")) !== null, `download-${i} has no download attribute`);
      const status = await page.evaluate(async (href) => (await fetch(href)).status, await link.getAttribute("href"));
      same(status, 200, `download-${i} status`);
      check((await page.locator(`#metas-${i} dt`).count()) >= 1, `metas-${i} is empty`);
    }
    await waitPlan(page);
    await page.screenshot({ path: path.join(artifacts, `generation-${gib}gb.png`), fullPage: true });
    if (docsScreenshot) await page.screenshot({ path: docsScreenshot, fullPage: true });
  }, 120_000);
  await step(`${gib} GB: a long generation is cancelled`, async () => {
    await sel(page, "duration").fill("600");
    await sel(page, "inference-steps").fill("50");
    await sel(page, "generate").click();
    await page.waitForFunction(() => ["queued", "running"].includes(document.getElementById("job-status").dataset.state));
    await sel(page, "cancel").click();
    await page.waitForFunction(() => ["succeeded", "failed", "cancelled"].includes(
      document.getElementById("job-status").dataset.state), null, { timeout: 30_000 });
    same(await sel(page, "job-status").getAttribute("data-state"), "cancelled", "job state");
    same(await sel(page, "generate").isDisabled(), false, "generate enabled again");
    await page.screenshot({ path: path.join(artifacts, `cancelled-${gib}gb.png`), fullPage: true });
  });
}

try {
  await step("demo checkpoints", async () => {
    execFileSync(acefit, ["make-demo-checkpoints", path.join(work, "ck"), "--no-lm"], { stdio: "ignore" });
  });
  await step("chromium starts", async () => {
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
      args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"] });
  });
  for (const gib of sizes) {
    const tier = tierFor(gib);
    let server = null;
    const up = await step(`${gib} GB: acefit serve starts`, async () => {
      server = await startServer(gib);
    });
    if (!up) continue;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const loaded = await step(`${gib} GB: the page loads`, async () => {
      await page.goto(server.url + "/");
      await page.waitForFunction(() => document.body.dataset.ready === "true");
      await waitPlan(page);
    });
    if (loaded) {
      await checkDefaults(page, gib, tier);
      await page.screenshot({ path: path.join(artifacts, `defaults-${gib}gb.png`), fullPage: true });
      if (gib === generateAt) await generation(page, gib);
    }
    await step(`${gib} GB: no script errors`, async () => same(errors, [], "page errors"));
    await page.close();
    await stopServer(server.child);
  }
  // With ACESTEP_API_KEY the page asks for the key on the first 401 and
  // keeps it for the tab.
  const key = "browser-test-key";
  let keyed = null;
  if (await step("API key: acefit serve starts", async () => { keyed = await startServer(8, key); })) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
    await step("API key: the page asks for it, then loads", async () => {
      await page.goto(keyed.url + "/");
      await page.waitForSelector("#auth-dialog[open]");
      await sel(page, "api-key").fill(key);
      await sel(page, "api-key-save").click();
      await page.waitForFunction(() => document.body.dataset.ready === "true");
      await waitPlan(page);
      same(await page.evaluate(() => sessionStorage.getItem("acefit.api_key")), key, "stored key");
    });
    await page.close();
    await stopServer(keyed.child);
  }
} catch (e) {
  failed++;
  console.log(`FAIL ${e.stack || e.message}`);
} finally {
  if (browser) await browser.close();
  clearTimeout(wholeTimer);
}
console.log(`browser test: ${Math.round((Date.now() - started) / 1000)} s, screenshots in ${artifacts}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
