/**
 * The page: the file picker and drop zone, the identity line, the layer
 * tree with its hex view, the signature panel and the plan form. All work on
 * the image happens in a Web Worker (worker.ts) started from a blob URL, so
 * the page runs from `file://` as well as from any static host, and never
 * makes a network request (its Content-Security-Policy forbids them).
 *
 * @module
 */

import type { Anchor, HexResult, OpenResult, PlanResult, Request, Response } from "./protocol.js";

/** The worker's bundled source, put here by scripts/build-web.mjs. */
declare const __WORKER_SOURCE__: string;

/** A built-in anchor as anchors.js lists it (DER in base64). */
interface BuiltinAnchor {
  name: string;
  subject: string;
  sha256: string;
  source: string;
  der: string;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};

const worker = new Worker(URL.createObjectURL(new Blob([__WORKER_SOURCE__], { type: "text/javascript" })));
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error & { code?: string }) => void }>();

worker.onmessage = (e: MessageEvent<Response>) => {
  const m = e.data;
  if (m.type === "progress") {
    showProgress(m.phase, m.done, m.total);
    return;
  }
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  if (m.type === "result") p.resolve(m.result);
  else p.reject(Object.assign(new Error(m.error.message), { code: m.error.code, layer: m.error.layer, offset: m.error.offset }));
};

/** A request without its id (distributes over the union, so each variant keeps its fields). */
type Body = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never;

function call<T>(body: Body, transfer: Transferable[] = []): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    worker.postMessage({ ...body, id } as Request, transfer);
  });
}

// ---------------------------------------------------------------------------
// Progress and errors

const fmtBytes = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

function showProgress(phase: string, done: number, total?: number): void {
  const bar = $<HTMLProgressElement>("progress");
  if (total && total > 0) {
    bar.max = total;
    bar.value = Math.min(done, total);
  } else {
    bar.removeAttribute("value");
  }
  $("progress-text").textContent = `${phase}${done > 0 ? `: ${fmtBytes(done)}${total ? ` of ${fmtBytes(total)}` : ""}` : "…"}`;
}

function done(text: string): void {
  const bar = $<HTMLProgressElement>("progress");
  bar.max = 1;
  bar.value = 1;
  $("progress-text").textContent = text;
}

function showError(where: string, e: unknown): void {
  const err = e as Error & { code?: string; layer?: string; offset?: number };
  const at = err.layer ? ` (layer ${err.layer}${typeof err.offset === "number" && err.offset >= 0 ? ` @0x${err.offset.toString(16)}` : ""})` : "";
  $("error").textContent = `${where}: ${err.code ? `${err.code}: ` : ""}${err.message}${at}`;
}

// ---------------------------------------------------------------------------
// Downloads (blob URLs: nothing leaves the machine)

function download(name: string, data: Uint8Array | string, type = "application/octet-stream"): void {
  const url = URL.createObjectURL(new Blob([typeof data === "string" ? data : (data as Uint8Array<ArrayBuffer>)], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function button(text: string, onClick: () => void, secondary = true): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick);
  return b;
}

// ---------------------------------------------------------------------------
// Opening a file

let current: OpenResult | null = null;
const baseName = () => (current?.name ?? "image").replace(/[^A-Za-z0-9._+-]/g, "_");

async function openFile(file: File): Promise<void> {
  document.body.dataset.state = "loading";
  $("error").textContent = "";
  for (const id of ["version", "build-id", "arch", "page-size", "signed", "layers", "digest", "verdict"]) $(id).textContent = "…";
  $("verdict-reason").textContent = "";
  showProgress("read", 0, file.size);
  const t0 = performance.now();
  try {
    current = await call<OpenResult>({ type: "open", file, name: file.name, full: $<HTMLInputElement>("full").checked });
  } catch (e) {
    current = null;
    for (const id of ["version", "build-id", "arch", "page-size", "signed", "layers", "digest", "verdict"]) $(id).textContent = "—";
    done("Failed.");
    showError(`cannot read ${file.name}`, e);
    document.body.dataset.state = "failed";
    return;
  }
  const r = current;
  const ms = performance.now() - t0;
  document.body.dataset.inspectMs = ms.toFixed(0);
  done(`${file.name}: ${fmtBytes(r.size)} in ${ms.toFixed(0)} ms (read ${r.timings.read.toFixed(0)}, inspect ${r.timings.inspect.toFixed(0)}, identity ${r.timings.identity.toFixed(0)})`);
  $("version").textContent = r.identity.version ?? (r.layers.length === 1 && r.layers[0]?.format === "pe" ? "(none: an EFI application, not a Linux kernel)" : "(not found)");
  $("version").title = r.identity.versionString ?? "";
  $("build-id").textContent = r.identity.buildId ?? "(not found)";
  $("arch").textContent = r.arch ?? "(unknown)";
  $("page-size").textContent = r.pageSize;
  $("signed").textContent = r.signed;
  $("layers").textContent = r.chain;
  $("digest").textContent = r.digest ?? r.digestError ?? "(not a PE: no Authenticode digest)";
  renderTree(r);
  setupPlanForm(r);
  document.body.dataset.state = "opened";
  await runVerify();
  if (r.planArch) await runPlan();
  else {
    $("plan-svg").innerHTML = `<p class="muted">No plan: kimage plans ${r.planArches.join(", ")} kernels, and this is ${r.arch ?? "not a kernel it knows"}.</p>`;
    $("plan-downloads").textContent = "";
    $("plan-notes").textContent = "";
  }
  document.body.dataset.state = "ready";
}

// ---------------------------------------------------------------------------
// The layer tree and the hex view

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function scalarText(v: Json): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** One object's fields as nested lists; an object with an absolute `offset` and a size gets a "bytes" button. */
function renderFields(obj: { [k: string]: Json }, into: HTMLElement): void {
  const ul = document.createElement("ul");
  ul.className = "fields";
  for (const [k, v] of Object.entries(obj)) {
    const li = document.createElement("li");
    if (v === null || typeof v !== "object") {
      li.innerHTML = `<span class="k"></span>: <span class="v"></span>`;
      (li.firstChild as HTMLElement).textContent = k;
      (li.lastChild as HTMLElement).textContent = scalarText(v);
    } else if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) {
      li.innerHTML = `<span class="k"></span>: <span class="v"></span>`;
      (li.firstChild as HTMLElement).textContent = k;
      (li.lastChild as HTMLElement).textContent = v.length === 0 ? "(none)" : v.map(scalarText).join(", ");
    } else {
      const d = document.createElement("details");
      const s = document.createElement("summary");
      s.textContent = Array.isArray(v) ? `${k} (${v.length})` : k;
      d.append(s);
      const body = document.createElement("div");
      if (Array.isArray(v)) {
        v.forEach((item, i) => {
          const o: { [k: string]: Json } = item !== null && typeof item === "object" && !Array.isArray(item) ? item : { [String(i)]: item };
          const sub = document.createElement("details");
          const ss = document.createElement("summary");
          ss.textContent = `[${i}]${typeof o.name === "string" ? ` ${o.name}` : ""}`;
          sub.append(ss);
          addBytesButton(o, sub);
          renderFields(o, sub);
          body.append(sub);
        });
      } else {
        addBytesButton(v, body);
        renderFields(v, body);
      }
      d.append(body);
      li.append(d);
    }
    ul.append(li);
  }
  into.append(ul);
}

/** A number or a 0x string as a number. */
function num(v: Json | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v.slice(2), 16);
  return undefined;
}

function addBytesButton(o: { [k: string]: Json }, into: HTMLElement): void {
  const offset = num(o.offset);
  const size = num(o.size) ?? num(o.dwLength) ?? num(o.length);
  if (offset === undefined || offset < 0 || size === undefined || size <= 0) return;
  into.append(button(`bytes @0x${offset.toString(16)} +0x${size.toString(16)}`, () => void showHex(0, offset, size)));
}

function renderTree(r: OpenResult): void {
  const tree = $("tree");
  tree.textContent = "";
  r.layers.forEach((layer, i) => {
    const l = layer as { [k: string]: Json };
    const d = document.createElement("details");
    // Closed at first: the tree's height is then one line per layer, so what follows it does not jump when results arrive.
    d.dataset.layer = String(i);
    const s = document.createElement("summary");
    const off = typeof l.offset === "number" && l.offset >= 0 ? `@0x${l.offset.toString(16)}` : "(decoded)";
    s.textContent = `[${i}] ${String(l.format)} ${off}, 0x${Number(l.size).toString(16)} bytes: ${String(l.summary)}`;
    d.append(s);
    const actions = document.createElement("div");
    actions.className = "row-actions";
    actions.append(
      button("bytes", () => void showHex(i, 0, 0)),
      button(`download layer ${i}`, () => {
        showProgress("decode", 0);
        call<Uint8Array>({ type: "layer", index: i }).then(
          (b) => {
            done(`layer ${i}: ${fmtBytes(b.length)}`);
            download(`${baseName()}.layer${i}.${String(l.format)}.bin`, b);
          },
          (e) => showError(`layer ${i}`, e),
        );
      }),
    );
    d.append(actions);
    const { format: _f, offset: _o, size: _s, summary: _u, findings, ...fields } = l;
    renderFields(fields, d);
    if (Array.isArray(findings) && findings.length > 0) {
      const ul = document.createElement("ul");
      for (const f of findings as { severity?: string; code?: string; message?: string; offset?: number }[]) {
        const li = document.createElement("li");
        li.className = f.severity === "info" ? "muted" : "finding";
        li.textContent = `${f.severity ?? ""} ${f.code ?? ""}${typeof f.offset === "number" && f.offset >= 0 ? ` @0x${f.offset.toString(16)}` : ""}: ${f.message ?? ""}`;
        ul.append(li);
      }
      d.append(ul);
    }
    tree.append(d);
  });
}

/** The hex view of layer `index`'s input around [start, start + length), that range highlighted (length 0: the first 512 bytes). */
async function showHex(index: number, start: number, length: number): Promise<void> {
  const from = Math.max(0, Math.floor(start / 16) * 16 - 32);
  const span = length === 0 ? 512 : Math.min(512, Math.max(64, start - from + Math.min(length, 448)));
  let h: HexResult;
  try {
    h = await call<HexResult>({ type: "hex", index, start: from, length: span });
  } catch (e) {
    showError("bytes", e);
    return;
  }
  const base = h.offset >= 0 ? h.offset : 0;
  const lines: string[] = [`${index === 0 ? "file" : `layer ${index}${h.offset < 0 ? " (decoded)" : ""}`}: ${h.size} bytes; showing 0x${(base + h.start).toString(16)}…`];
  for (let row = 0; row < h.bytes.length; row += 16) {
    const at = h.start + row;
    let hexPart = "";
    let ascii = "";
    for (let j = 0; j < 16; j++) {
      const k = row + j;
      const b = h.bytes[k];
      const inside = length > 0 && h.start + k >= start && h.start + k < start + length;
      const cell = b === undefined ? "  " : b.toString(16).padStart(2, "0");
      const ch = b === undefined ? " " : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
      const esc = (s: string) => s.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
      hexPart += (inside ? `<mark>${cell}</mark>` : cell) + " ";
      ascii += inside ? `<mark>${esc(ch)}</mark>` : esc(ch);
    }
    lines.push(`${(base + at).toString(16).padStart(8, "0")}  ${hexPart} ${ascii}`);
  }
  const pre = $("hex");
  pre.innerHTML = lines.join("\n");
  pre.dataset.start = `0x${start.toString(16)}`;
  pre.dataset.length = `0x${length.toString(16)}`;
  pre.focus();
}

// ---------------------------------------------------------------------------
// Signature

const builtin: BuiltinAnchor[] = ((globalThis as { KIMAGE_ANCHORS?: BuiltinAnchor[] }).KIMAGE_ANCHORS ?? []);
let mine: Anchor[] = [];

function b64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function anchors(): Anchor[] {
  const which = (document.querySelector('input[name="anchors"]:checked') as HTMLInputElement | null)?.value;
  return which === "mine" ? mine : builtin.map((a) => ({ name: a.name, der: b64(a.der), source: a.source }));
}

interface SignatureRow {
  path: string;
  verdict: string;
  reason: string;
  signer?: string;
  issuer?: string;
  digestAlgorithm?: string;
  signatureAlgorithm?: string;
  chain: string[];
  trustedBy?: string;
  counted?: boolean;
  nested?: SignatureRow[];
}

async function runVerify(): Promise<void> {
  if (!current) return;
  const v = await call<{ verdict: string; reason: string; detail: string; mode?: string; rules?: string; modeReason?: string; signatures: SignatureRow[] }>({
    type: "verify",
    anchors: anchors(),
    mode: $<HTMLSelectElement>("mode").value,
  }).catch((e: unknown) => {
    showError("verify", e);
    return null;
  });
  if (!v) return;
  const el = $("verdict");
  el.textContent = v.verdict;
  el.className = v.verdict === "valid" ? "verdict-valid" : "verdict-bad";
  $("verdict-reason").textContent = `(${v.reason}) ${v.detail}`;
  $("rules").textContent = v.rules ? `rules: ${v.rules}${v.modeReason ? ` (auto: ${v.modeReason})` : ""}` : "";
  const rows: string[] = [];
  const esc = (s: string | undefined) => (s ?? "?").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
  const walk = (s: SignatureRow) => {
    rows.push(
      `<tr data-signature="${esc(s.path)}"><td>${esc(s.path)}</td><td>${esc(s.verdict)} (${esc(s.reason)})${s.counted === false ? " (not counted)" : ""}</td><td>${esc(s.signer)}</td><td>${esc(s.issuer)}</td><td>${esc(s.digestAlgorithm)} / ${esc(s.signatureAlgorithm)}</td><td>${s.chain.map(esc).join(" ← ") || "(none)"}${s.trustedBy ? `; trusted by ${esc(s.trustedBy)}` : ""}</td></tr>`,
    );
    for (const n of s.nested ?? []) walk(n);
  };
  v.signatures.forEach(walk);
  $("signers").innerHTML = rows.length
    ? `<table><thead><tr><th>#</th><th>verdict</th><th>signer</th><th>issuer</th><th>algorithms (image / signature)</th><th>chain</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : `<p class="muted">No signatures.</p>`;
}

// ---------------------------------------------------------------------------
// Plan

/** A memory map to start from per arch (QEMU's defaults: virt's RAM at 1 GiB / 2 GiB; a PC's RAM above 1 MiB). */
const DEFAULT_MEMORY: Record<string, string> = { x86_64: "0x100000:0x7ff00000", arm64: "0x40000000:2G", riscv64: "0x80000000:2G" };
let dtb: Uint8Array | null = null;
let lastPlan: PlanResult | null = null;
/** Plans drawn (or refused) so far, as body[data-plans]: a reader can wait for the next one. */
let plans = 0;

function setupPlanForm(r: OpenResult): void {
  const sel = $<HTMLSelectElement>("plan-arch");
  sel.textContent = "";
  for (const a of r.planArches) {
    const o = document.createElement("option");
    o.value = a;
    o.textContent = a;
    sel.append(o);
  }
  sel.value = r.planArch ?? r.planArches[0] ?? "";
  const mem = $<HTMLInputElement>("plan-memory");
  if (!dtb) mem.value = DEFAULT_MEMORY[sel.value] ?? "";
}

async function runPlan(): Promise<void> {
  if (!current) return;
  const arch = $<HTMLSelectElement>("plan-arch").value;
  showProgress("plan", 0);
  try {
    lastPlan = await call<PlanResult>({
      type: "plan",
      arch,
      memory: $<HTMLInputElement>("plan-memory").value,
      initrdSize: Math.max(0, Math.floor(Number($<HTMLInputElement>("plan-initrd").value) || 0)),
      cmdline: $<HTMLInputElement>("plan-cmdline").value,
      seed: $<HTMLInputElement>("plan-seed").value,
      dtb,
      scale: $<HTMLInputElement>("plan-log").checked ? "log" : "linear",
    });
  } catch (e) {
    lastPlan = null;
    done("Plan refused.");
    showError("plan", e);
    $("plan-svg").innerHTML = `<p class="muted">No plan.</p>`;
    document.body.dataset.plans = String(++plans);
    return;
  }
  done("Planned.");
  const p = lastPlan;
  $("plan-svg").innerHTML = p.svg;
  const dl = $("plan-downloads");
  dl.textContent = "";
  const row = document.createElement("div");
  row.className = "row-actions";
  row.append(
    button("plan.json", () => download("plan.json", p.planFile, "application/json"), false),
    button("plan.svg", () => download("plan.svg", p.svg, "image/svg+xml")),
    ...p.segments.map((s, i) =>
      button(`${s.file} (${s.name}, ${fmtBytes(s.bytes)})`, () => {
        call<Uint8Array>({ type: "segment", index: i }).then(
          (b) => download(s.file, b),
          (e) => showError("segment", e),
        );
      }),
    ),
  );
  dl.append(row);
  const notes = (p.json.notes as string[] | undefined) ?? [];
  $("plan-notes").textContent = notes.map((n) => `- ${n}`).join("\n");
  document.body.dataset.plans = String(++plans);
}

// ---------------------------------------------------------------------------
// Wiring

const fileInput = $<HTMLInputElement>("file");
fileInput.addEventListener("change", () => {
  const f = fileInput.files?.[0];
  if (f) void openFile(f);
});
const drop = $("drop");
for (const t of ["dragenter", "dragover"]) {
  drop.addEventListener(t, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
}
for (const t of ["dragleave", "drop"]) drop.addEventListener(t, () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  const f = (e as DragEvent).dataTransfer?.files[0];
  if (f) void openFile(f);
});
// A file dropped anywhere else must not navigate away from the page.
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f) void openFile(f);
});

$("verify").addEventListener("click", () => void runVerify());
$("mode").addEventListener("change", () => void runVerify());
for (const r of document.querySelectorAll('input[name="anchors"]')) r.addEventListener("change", () => void runVerify());
$<HTMLInputElement>("anchor-files").addEventListener("change", async (e) => {
  const files = [...((e.target as HTMLInputElement).files ?? [])];
  mine = await Promise.all(files.map(async (f) => ({ name: f.name, der: new Uint8Array(await f.arrayBuffer()) })));
  const radio = document.querySelector('input[name="anchors"][value="mine"]') as HTMLInputElement | null;
  if (radio) radio.checked = true;
  await runVerify();
});

$("plan-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void runPlan();
});
$("plan-log").addEventListener("change", () => void runPlan());
$("plan-arch").addEventListener("change", () => {
  if (!dtb) $<HTMLInputElement>("plan-memory").value = DEFAULT_MEMORY[$<HTMLSelectElement>("plan-arch").value] ?? "";
});
$<HTMLInputElement>("plan-dtb").addEventListener("change", async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  dtb = f ? new Uint8Array(await f.arrayBuffer()) : null;
  // With a device tree, the map comes from it (/memory, /reserved-memory, /memreserve/), as `plan --dtb` without --memory.
  if (dtb) $<HTMLInputElement>("plan-memory").value = "";
  if (current) await runPlan();
});

$("builtin-count").textContent = String(builtin.length);
$("builtin-list").innerHTML = builtin.length
  ? builtin.map(() => `<li><strong></strong> <span class="muted"></span></li>`).join("")
  : "<li>None: this build was made without the Debian packages they are taken from (npm run fixtures).</li>";
builtin.forEach((a, i) => {
  const li = $("builtin-list").children[i];
  if (!li) return;
  (li.firstChild as HTMLElement).textContent = a.name;
  (li.lastChild as HTMLElement).textContent = ` ${a.subject}; SHA-256 ${a.sha256}; from ${a.source}`;
});
document.body.dataset.state = "idle";
