// acefit web UI: the form, the tier's adaptive defaults, the memory plan and
// tier map, and a generation followed over server-sent events. Plain
// browser JavaScript; every asset comes from the acefit binary.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "acefit.api_key";
const TAGS = ["weights", "activations", "workspace", "kv_cache", "io"];
const KEYS = ["C", "C#", "Db", "D", "D#", "Eb", "E", "F", "F#", "Gb", "G", "G#", "Ab", "A", "A#", "Bb", "B"];

let gpu = null; // the /v1/gpu document
let currentTask = null;
let pendingKey = null;

// ---- API -------------------------------------------------------------------

function askKey() {
  if (!pendingKey) {
    pendingKey = new Promise((resolve) => {
      const dialog = $("auth-dialog");
      dialog.addEventListener("close", () => {
        sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
        pendingKey = null;
        resolve();
      }, { once: true });
      dialog.showModal();
    });
  }
  return pendingKey;
}

// fetch with the stored API key; a 401 asks for the key and tries again.
async function authedFetch(path, options = {}) {
  for (;;) {
    const headers = Object.assign({}, options.headers);
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = "Bearer " + key;
    const res = await fetch(path, Object.assign({}, options, { headers }));
    if (res.status !== 401) return res;
    await askKey();
  }
}

// The envelope's error: a string (upstream) or {code, field, message}.
function errorText(error) {
  if (!error) return "";
  return typeof error === "string" ? error : error.message || error.code || JSON.stringify(error);
}

// One JSON call; returns the envelope's data or throws its error.
async function api(method, path, body) {
  const options = { method };
  if (body !== undefined) {
    options.headers = { "Content-Type": "application/json" };
    options.body = JSON.stringify(body);
  }
  const res = await authedFetch(path, options);
  let doc = null;
  try {
    doc = await res.json();
  } catch (e) {
    doc = null;
  }
  if (!res.ok || !doc) {
    const error = new Error(errorText(doc && doc.error) || `${method} ${path}: HTTP ${res.status}`);
    error.status = res.status;
    error.retryAfterS = Number(res.headers.get("Retry-After")) || 1;
    throw error;
  }
  return doc.data;
}

// Reads a server-sent event stream; onEvent(name, data) returns true to stop.
async function followEvents(path, onEvent) {
  const res = await authedFetch(path, { headers: { Accept: "text/event-stream" } });
  if (!res.ok || !res.body) throw new Error(`${path}: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "";
      const data = [];
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
      if (data.length === 0) continue;
      let payload;
      try {
        payload = JSON.parse(data.join("\n"));
      } catch (e) {
        payload = { text: data.join("\n") };
      }
      name = name || payload.event || payload.type || payload.status || "message";
      if (onEvent(name, payload)) {
        reader.cancel().catch(() => {});
        return true;
      }
    }
  }
}

// ---- formatting ------------------------------------------------------------

function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "?";
  if (bytes === 0) return "0";
  const gib = bytes / 2 ** 30;
  if (gib >= 1) return gib.toFixed(gib >= 10 ? 1 : 2) + " GiB";
  return (bytes / 2 ** 20).toFixed(0) + " MiB";
}

function formatSeconds(s) {
  if (!Number.isFinite(s)) return "";
  if (s < 60) return `${Math.round(s)} s`;
  const rest = Math.round(s % 60);
  return `${Math.floor(s / 60)} min` + (rest ? ` ${rest} s` : "");
}

// "acestep-5Hz-lm-1.7B" -> "1.7B" (the folder name stays the value).
function lmLabel(name) {
  const size = /(\d+(?:\.\d+)?B)$/.exec(name || "");
  return size ? size[1] : name;
}

function el(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- the tier's defaults -----------------------------------------------------

function fillSelect(select, values, selected, label = (v) => v) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, title: v }, label(v))));
  if (values.includes(selected)) select.value = selected;
}

function usesLm() {
  return $("init-lm").checked && $("thinking").checked;
}

function applyTier(g) {
  const lmModels = g.lm_models || [];
  const initLm = $("init-lm");
  initLm.checked = Boolean(g.init_lm) && lmModels.length > 0;
  initLm.disabled = lmModels.length === 0;
  fillSelect($("lm-model"), lmModels, g.recommended_lm, lmLabel);
  if (lmModels.length === 0) $("lm-model").appendChild(el("option", { value: "" }, "none on this tier"));
  fillSelect($("lm-backend"), g.allowed_backends || [], g.backend);
  $("offload").value = g.offload || "none";
  $("quantization").value = g.quantization || "none";
  $("compile").checked = g.compile !== false;
  const maxBatch = g.max_batch_without_lm || 1;
  $("batch").value = Math.min(2, maxBatch);
  const summary = `${g.tier_label || g.tier} · ${Number(g.gpu_memory_gib).toFixed(1)} GiB · runs on ${g.run_device}`;
  $("device-summary").textContent = summary + (g.simulation ? " (simulated size)" : "");
  updateControls();
  drawTierMap(g);
}

// The limits and enabled controls that follow the LM checkbox and thinking.
function updateControls() {
  if (!gpu) return;
  const initLm = $("init-lm").checked;
  const thinking = $("thinking");
  thinking.disabled = !initLm;
  if (!initLm) thinking.checked = false;
  $("lm-model").disabled = !initLm || !$("lm-model").value;
  $("lm-backend").disabled = !initLm;
  const lm = usesLm();
  const maxDuration = lm ? gpu.max_duration_with_lm_s : gpu.max_duration_without_lm_s;
  const maxBatch = lm ? gpu.max_batch_with_lm : gpu.max_batch_without_lm;
  $("duration").max = maxDuration;
  $("batch").max = maxBatch;
  const mode = lm ? "with the LM" : "without the LM";
  $("duration-hint").textContent = `up to ${maxDuration} s ${mode}`;
  $("batch-hint").textContent = `up to ${maxBatch} ${mode}`;
  $("lyrics").disabled = $("instrumental").checked;
  $("seed").disabled = $("random-seed").checked;
}

function numberField(id) {
  const text = $(id).value.trim();
  if (text === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : text; // the server names bad input
}

// The form as a /release_task body.
function formBody() {
  const body = {
    prompt: $("caption").value,
    lyrics: $("instrumental").checked ? "[Instrumental]" : $("lyrics").value,
    audio_duration: numberField("duration"),
    batch_size: numberField("batch"),
    bpm: numberField("bpm"),
    key_scale: $("key-scale").value.trim() || undefined,
    time_signature: $("time-signature").value || undefined,
    vocal_language: $("vocal-language").value,
    inference_steps: numberField("inference-steps"),
    shift: numberField("shift"),
    seed: $("random-seed").checked ? undefined : numberField("seed"),
    use_random_seed: $("random-seed").checked,
    thinking: usesLm(),
    audio_format: $("audio-format").value,
  };
  if ($("init-lm").checked) {
    body.lm_model_path = $("lm-model").value || undefined;
    body.lm_backend = $("lm-backend").value || undefined;
  }
  // acefit's own settings (not upstream fields) only where the user
  // changed the tier's default.
  const own = {
    init_lm: [$("init-lm").checked, Boolean(gpu && gpu.init_lm) && !$("init-lm").disabled],
    offload: [$("offload").value, gpu && (gpu.offload || "none")],
    quantization: [$("quantization").value, gpu && (gpu.quantization || "none")],
    compile: [$("compile").checked, !gpu || gpu.compile !== false],
  };
  for (const [name, [value, tierDefault]] of Object.entries(own)) {
    if (value !== tierDefault) body[name] = value;
  }
  return body;
}

// ---- the memory plan -------------------------------------------------------

let planTimer = 0;
let planSeq = 0;

function schedulePlan() {
  $("memory-chart").dataset.state = "pending";
  clearTimeout(planTimer);
  planTimer = setTimeout(refreshPlan, 300);
}

async function refreshPlan() {
  const seq = ++planSeq;
  const chart = $("memory-chart");
  chart.dataset.state = "loading";
  let plan;
  try {
    plan = await api("POST", "/v1/plan", formBody());
  } catch (e) {
    if (seq !== planSeq) return;
    if (e.status === 503) {
      // Models loading or a job running: ask again when the server says.
      planTimer = setTimeout(refreshPlan, Math.min(e.retryAfterS, 10) * 1000);
      chart.dataset.state = "pending";
      $("plan-status").textContent = "Plan waits: " + e.message;
      $("plan-status").className = "";
      return;
    }
    chart.dataset.state = "error";
    $("plan-status").textContent = "No plan: " + e.message;
    $("plan-status").className = "bad";
    $("plan-warnings").replaceChildren();
    return;
  }
  if (seq !== planSeq) return;
  showPlan(plan);
  drawChart(plan);
  chart.dataset.state = "ready";
}

// What the server changed against the form: the fallbacks it applied.
function fallbacks(plan) {
  const s = plan.settings || {};
  const form = formBody();
  const out = [];
  const differs = (label, asked, applied) => {
    if (asked === undefined || applied === undefined || applied === null) return;
    if (String(asked) !== String(applied)) out.push(`${label}: ${applied} instead of ${asked}`);
  };
  differs("duration (s)", form.audio_duration, s.duration_s);
  differs("batch", form.batch_size, s.batch);
  differs("offload", $("offload").value, s.offload);
  differs("quantization", $("quantization").value, s.quantization === null ? "none" : s.quantization);
  differs("compile", $("compile").checked, s.compile);
  if (form.thinking) {
    differs("LM model", form.lm_model_path, s.lm_model);
    differs("LM backend", form.lm_backend, s.backend);
  }
  return out;
}

function showPlan(plan) {
  const status = $("plan-status");
  if (plan.fits) {
    status.textContent = `Fits: peak ${formatBytes(plan.peak_bytes)} of a ${formatBytes(plan.budget_bytes)} budget`;
    status.className = "good";
  } else {
    status.textContent = "Does not fit: " + (plan.refusal || "over the budget");
    status.className = "bad";
  }
  const items = [];
  for (const w of plan.warnings || []) items.push(el("li", { class: "warning" }, w));
  for (const f of fallbacks(plan)) items.push(el("li", { class: "fallback" }, "Server applies " + f));
  $("plan-warnings").replaceChildren(...items);
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Per stage a bar stacked by tag, a dashed line at the budget.
function drawChart(plan) {
  const chart = $("memory-chart");
  const W = 640, H = 260, left = 70, right = 10, top = 16, bottom = 36;
  const stages = plan.stages || [];
  const budget = plan.budget_bytes || 0;
  const total = (st) => TAGS.reduce((sum, t) => sum + ((st.by_tag || {})[t] || 0), 0) || st.device_bytes || 0;
  const peak = Math.max(...stages.map(total), 1);
  // A budget far above every stage (tiny models on a large device) would
  // flatten the bars: the scale then follows the stages and the budget
  // line sits at the top, marked as off the scale.
  const budgetOnScale = budget <= 4 * peak;
  const maxY = (budgetOnScale ? Math.max(budget, peak) : peak) * 1.08;
  const y = (bytes) => top + (H - top - bottom) * (1 - bytes / maxY);
  const nodes = [];
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    nodes.push(svg("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }));
    nodes.push(svg("text", { class: "axis", x: left - 6, y: y(v) + 4, "text-anchor": "end" }, formatBytes(v)));
  }
  const slot = (W - left - right) / Math.max(stages.length, 1);
  const barWidth = Math.min(80, slot * 0.6);
  stages.forEach((st, i) => {
    const x = left + slot * i + (slot - barWidth) / 2;
    const group = svg("g", { class: "stage", "data-stage": st.name });
    let base = 0;
    for (const tag of TAGS) {
      const bytes = (st.by_tag || {})[tag] || 0;
      if (bytes <= 0) continue;
      const rect = svg("rect", {
        class: `seg seg-${tag}`, "data-tag": tag, x, width: barWidth,
        y: y(base + bytes), height: Math.max(y(base) - y(base + bytes), 0.5),
      });
      rect.appendChild(svg("title", {}, `${st.name}: ${tag} ${formatBytes(bytes)}`));
      group.appendChild(rect);
      base += bytes;
    }
    group.appendChild(svg("text", { class: "axis", x: x + barWidth / 2, y: H - bottom + 14, "text-anchor": "middle" }, st.name));
    group.appendChild(svg("text", { class: "axis", x: x + barWidth / 2, y: y(total(st)) - 3, "text-anchor": "middle" }, formatBytes(total(st))));
    nodes.push(group);
  });
  if (budget > 0) {
    const at = budgetOnScale ? y(budget) : top;
    const label = "budget " + formatBytes(budget) + (budgetOnScale ? "" : " (above the scale)");
    nodes.push(svg("line", { id: "budget-line", class: "budget-line", x1: left, x2: W - right, y1: at, y2: at }));
    nodes.push(svg("text", { class: "budget-label", x: W - right, y: at - 4, "text-anchor": "end" }, label));
  }
  if (stages.length === 0) {
    nodes.push(svg("text", { class: "axis", x: W / 2, y: H / 2, "text-anchor": "middle" }, "no stages"));
  }
  chart.replaceChildren(...nodes);
}

// ---- the tier map ------------------------------------------------------------

function drawTierMap(g) {
  const table = g.tiers && (Array.isArray(g.tiers) ? g.tiers : g.tiers.tiers);
  const rows = (table || []).map((t) => {
    const current = t.name === g.tier;
    const row = el("tr", current ? { class: "current", "aria-current": "true" } : {});
    row.dataset.tier = t.name;
    const name = el("th", { scope: "row" }, t.label || t.name);
    if (current) name.appendChild(el("span", { class: "here" }, " ◀ this device"));
    row.append(
      name,
      el("td", {}, `${t.min_memory_gib} GiB`),
      el("td", {}, `${formatSeconds(t.max_duration_with_lm_s)} / ${formatSeconds(t.max_duration_without_lm_s)}`),
      el("td", {}, `${t.max_batch_with_lm} / ${t.max_batch_without_lm}`),
      el("td", {}, (t.lm_models || []).join(", ") || "none"),
      el("td", {}, (t.allowed_backends || []).join(", ")),
      el("td", {}, t.offload),
      el("td", {}, t.quantization || "none"),
    );
    return row;
  });
  $("tier-map").tBodies[0].replaceChildren(...rows);
}

// ---- a generation ------------------------------------------------------------

function setJob(state, text, fraction) {
  const status = $("job-status");
  status.dataset.state = state;
  status.textContent = text;
  if (fraction !== undefined) $("progress").value = fraction;
}

function describeEvent(name, e) {
  if (name === "queued") {
    const eta = e.eta_s !== undefined ? ` · about ${formatSeconds(e.eta_s)}` : "";
    return `Queued, position ${e.position}${eta}`;
  }
  const steps = e.total ? ` ${e.done}/${e.total}` : "";
  const eta = Number.isFinite(e.eta_s) ? ` · ${formatSeconds(e.eta_s)} left` : "";
  return `${e.stage || "running"}${steps}${eta}`;
}

const TERMINAL = ["succeeded", "failed", "cancelled"];

// Follows the job to its end: {state, error}.
async function watch(taskId) {
  let end = null;
  try {
    await followEvents("/v1/events?task_id=" + encodeURIComponent(taskId), (name, e) => {
      if (TERMINAL.includes(name)) {
        end = { state: name, error: e.error || e.reason || "" };
        return true;
      }
      if (name === "queued") setJob("queued", describeEvent(name, e), 0);
      else if (name === "progress") setJob("running", describeEvent(name, e), e.fraction || 0);
      return false;
    });
  } catch (e) {
    end = null; // the stream broke: ask for the status instead
  }
  while (!end) {
    const [job] = await api("POST", "/query_result", { task_id_list: [taskId] });
    if (job && job.status === 1) end = { state: "succeeded" };
    else if (job && job.status === 2) {
      const text = String(job.progress_text || job.result || "");
      end = { state: /cancel/i.test(text) ? "cancelled" : "failed", error: text };
    } else await new Promise((r) => setTimeout(r, 1000));
  }
  return end;
}

async function audioUrl(file) {
  if (!sessionStorage.getItem(KEY_STORE)) return file;
  const res = await authedFetch(file);
  return URL.createObjectURL(await res.blob());
}

async function showResults(taskId) {
  const [job] = await api("POST", "/query_result", { task_id_list: [taskId] });
  let items = job ? job.result : [];
  if (typeof items === "string") items = JSON.parse(items || "[]");
  const format = $("audio-format").value;
  const nodes = [];
  for (const [i, item] of (items || []).entries()) {
    const article = el("article", { class: "result", id: `result-${i}` });
    article.appendChild(el("h3", {}, `Item ${i + 1}` + (item.seed_value !== undefined ? ` · seed ${item.seed_value}` : "")));
    const url = await audioUrl(item.file);
    article.appendChild(el("audio", { id: `audio-${i}`, controls: "", preload: "metadata", src: url, "aria-label": `Item ${i + 1} audio` }));
    const name = new URLSearchParams(item.file.split("?")[1] || "").get("path") || `acefit-${i + 1}.${format}`;
    article.appendChild(el("a", { id: `download-${i}`, href: url, download: name.split("/").pop() }, "Download"));
    const metas = Object.assign({}, item.metas || {});
    if (item.lm_model) metas.lm_model = item.lm_model;
    if (item.dit_model) metas.dit_model = item.dit_model;
    const dl = el("dl", { class: "metas", id: `metas-${i}`, "aria-label": `Item ${i + 1} metadata` });
    for (const [k, v] of Object.entries(metas)) {
      if (v === null || v === undefined || v === "") continue;
      dl.append(el("dt", {}, k), el("dd", {}, Array.isArray(v) ? v.join(", ") : String(v)));
    }
    article.appendChild(dl);
    nodes.push(article);
  }
  $("results").replaceChildren(...nodes);
}

async function generate(event) {
  event.preventDefault();
  $("generate").disabled = true;
  $("results").replaceChildren();
  setJob("submitting", "Submitting…", 0);
  try {
    const data = await api("POST", "/release_task", formBody());
    currentTask = data.task_id;
    $("cancel").disabled = false;
    setJob("queued", `Queued, position ${data.queue_position}`, 0);
    const end = await watch(currentTask);
    if (end.state === "succeeded") {
      setJob("fetching", "Fetching the results…", 1);
      await showResults(currentTask);
      setJob("succeeded", "Done", 1);
    } else if (end.state === "cancelled") {
      setJob("cancelled", "Cancelled");
    } else {
      setJob("failed", "Failed: " + (end.error || "see the server log"));
    }
  } catch (e) {
    setJob("failed", "Failed: " + e.message);
  } finally {
    currentTask = null;
    $("cancel").disabled = true;
    $("generate").disabled = false;
    schedulePlan(); // plans wait while a job runs
  }
}

async function cancel() {
  if (!currentTask) return;
  $("cancel").disabled = true;
  setJob("cancelling", "Cancelling…");
  try {
    await api("POST", "/v1/cancel", { task_id: currentTask });
  } catch (e) {
    setJob("failed", "Cancel failed: " + e.message);
  }
}

// ---- start -------------------------------------------------------------------

async function start() {
  $("key-list").replaceChildren(...KEYS.flatMap((k) => [el("option", { value: `${k} major` }), el("option", { value: `${k} minor` })]));
  $("song-form").addEventListener("submit", generate);
  $("cancel").addEventListener("click", cancel);
  $("song-form").addEventListener("input", () => {
    updateControls();
    schedulePlan();
  });
  $("song-form").addEventListener("change", () => {
    updateControls();
    schedulePlan();
  });
  try {
    gpu = await api("GET", "/v1/gpu");
  } catch (e) {
    $("device-summary").textContent = "Cannot read the device: " + e.message;
    return;
  }
  applyTier(gpu);
  document.body.dataset.ready = "true";
  refreshPlan();
}

start();
