/**
 * The page's worker: everything that reads the kernel image runs here, so
 * the page never freezes. It answers the page's requests (protocol.ts) with
 * the same JSON the CLI prints, computed by the same functions: `inspect`,
 * `kernelIdentity` and `layerJson` (inspect --json), `authenticodeDigest`
 * (digest), `verifyAuthenticode` with `autoMode` (verify --json), the plan
 * table, `planJson` and `planSvg` (plan --json, plan --svg).
 *
 * @module
 */

import { isKimageError } from "../src/core/errors.js";
import { inspect, type InspectResult } from "../src/inspect/registry.js";
import { kernelIdentity } from "../src/inspect/identity.js";
import { authenticodeDigest } from "../src/formats/pe/authenticode.js";
import { verifyAuthenticode } from "../src/signature/verify.js";
import { hasAppendedSignature, verifyAppendedSignature } from "../src/signature/appended.js";
import type { PolicyMode } from "../src/signature/policy.js";
import { PLAN_TABLE, planTableRow, type PlanRequest } from "../src/plan/table.js";
import { planDigest } from "../src/plan/core/digest.js";
import { memoryMapFromCli, memoryMapFromFdt } from "../src/plan/core/memory-parse.js";
import type { MemoryMap } from "../src/plan/core/memory.js";
import type { AnyPlan } from "../src/plan/core/types.js";
import { planSvg } from "../src/plan/svg.js";
import { createFdt, ensureNode, parseFdt, serializeFdt, setU32, setString, encodeReg, setProp } from "../src/fdt/index.js";
import { layerJson } from "../src/cli/render.js";
import { archText, signatureLines } from "../src/cli/summary.js";
import { jsonReplacer } from "../src/cli/json.js";
import { planJson } from "../src/cli/plan-json.js";
import { autoMode, MODE_RULES, verdictJson } from "../src/cli/verify-mode.js";
import type { HexResult, OpenResult, PlanResult, Request, Response } from "./protocol.js";

interface WorkerScope {
  postMessage(message: Response, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
}
const scope = self as unknown as WorkerScope;

/** The file being looked at, and what was computed from it. */
let bytes: Uint8Array | null = null;
let peek: InspectResult | null = null;
let fullResult: InspectResult | null = null;
let lastPlan: AnyPlan | null = null;

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v, jsonReplacer)) as unknown;

/** Progress to the page, at most every 50 ms (and always the last event of a phase). */
let lastSent = 0;
let lastPhase = "";
function progress(e: { phase: string; done: number; total?: number | undefined }): void {
  const now = performance.now();
  if (e.phase === lastPhase && now - lastSent < 50 && (e.total === undefined || e.done < e.total)) return;
  lastSent = now;
  lastPhase = e.phase;
  scope.postMessage({ type: "progress", phase: e.phase, done: e.done, total: e.total });
}

/** Reads a Blob with progress (Blob.stream(), one chunk at a time). */
async function readBlob(file: Blob): Promise<Uint8Array> {
  const out = new Uint8Array(file.size);
  const reader = file.stream().getReader();
  let at = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    const chunk = r.value as Uint8Array;
    if (at + chunk.length > out.length) throw new Error("the file grew while it was read");
    out.set(chunk, at);
    at += chunk.length;
    progress({ phase: "read", done: at, total: file.size });
  }
  return at === out.length ? out : out.subarray(0, at);
}

/** The page size the headers state (arm64), or what the architecture fixes. */
function pageSize(layers: InspectResult["layers"], arch: string | null): string {
  for (const l of layers) {
    if (l.format === "arm64-image" && typeof l.fields.pageSize === "string") return `${l.fields.pageSize} (arm64 Image header flags)`;
  }
  if (arch?.startsWith("x86_64") || arch?.startsWith("i386")) return "4K (fixed by the architecture)";
  return "not stated in the headers";
}

/** What the image carries, as `inspect` summarises it ("signed by …, issuer …", "unsigned", "appended module signature"). */
function signedText(layers: InspectResult["layers"], input: Uint8Array): string {
  const pe = layers.find((l) => l.format === "pe");
  if (!pe && hasAppendedSignature(input)) return "appended module signature";
  return signatureLines(pe).join("; ");
}

async function open(file: Blob, name: string, full: boolean): Promise<OpenResult> {
  bytes = null;
  peek = null;
  fullResult = null;
  lastPlan = null;
  const t0 = performance.now();
  const input = await readBlob(file);
  const t1 = performance.now();
  progress({ phase: full ? "inspect (full decode)" : "inspect", done: 0 });
  const result = await inspect(input, { decode: full ? "full" : "peek", onProgress: progress });
  const t2 = performance.now();
  progress({ phase: "identity", done: 0 });
  const id = await kernelIdentity(result, { depth: full ? "full" : "headers", bytes: input, onProgress: progress });
  const t3 = performance.now();
  bytes = input;
  peek = result;
  if (full) fullResult = result;
  let digest: string | null = null;
  let digestError: string | null = null;
  if (result.layers[0]?.format === "pe") {
    try {
      digest = (await authenticodeDigest(input, "sha256")).hex;
    } catch (e) {
      if (!isKimageError(e)) throw e;
      digestError = `${e.code}: ${e.message}`;
    }
  }
  const archLine = archText(result.layers) ?? null;
  const first = archLine?.split(",")[0] ?? null;
  // A plan row applies when the image holds the layer it boots (a bzImage, an arm64 or RISC-V Image), not just the machine type.
  const planArch = PLAN_TABLE.find((r) => r.arch === first && result.layers.some((l) => l.format === r.layer))?.arch ?? null;
  return {
    name,
    size: input.length,
    identity: { version: id.version, buildId: id.buildId, config: id.config, versionString: id.versionString },
    layers: json(result.layers.map(layerJson)) as Record<string, unknown>[],
    chain: result.layers.map((l) => l.format).join(" → "),
    arch: archLine,
    pageSize: pageSize(result.layers, archLine),
    signed: signedText(result.layers, input),
    digest,
    digestError,
    planArch,
    planArches: PLAN_TABLE.map((r) => r.arch),
    timings: { read: t1 - t0, inspect: t2 - t1, identity: t3 - t2 },
  };
}

/** `verify --json`'s object for the open file. */
async function verify(anchors: { der: Uint8Array }[], requested: string): Promise<unknown> {
  if (!bytes) throw new Error("no file");
  const trust = anchors.map((a) => a.der);
  if (hasAppendedSignature(bytes)) {
    const v = await verifyAppendedSignature(bytes, { trust });
    return json({ verdict: v.verdict, reason: v.reason, detail: v.detail, kind: "appended", signatures: v.signatures });
  }
  const auto = requested === "auto" ? autoMode(bytes) : undefined;
  const mode = auto?.mode ?? (requested as PolicyMode);
  if (!(mode in MODE_RULES)) throw new Error(`unknown mode ${requested}`);
  const v = await verifyAuthenticode(bytes, { trust, mode, strict: true, allowSha1: false });
  return json({ ...verdictJson(v, auto), rules: MODE_RULES[v.mode] });
}

/**
 * A first kernel's device tree with only the memory the form names (root
 * `#address-cells` = `#size-cells` = 2, one `/memory@…` node per range):
 * what a device-tree architecture plans against when no tree was dropped.
 */
function minimalDtb(map: MemoryMap): Uint8Array {
  const fdt = createFdt();
  setU32(fdt.root, "#address-cells", 2);
  setU32(fdt.root, "#size-cells", 2);
  ensureNode(fdt, "/chosen");
  for (const r of map.regions.filter((x) => x.type === "ram")) {
    const node = ensureNode(fdt, `/memory@${r.start.toString(16)}`);
    setString(node, "device_type", "memory");
    setProp(node, "reg", encodeReg([{ address: r.start, size: r.size }], 2, 2));
  }
  return serializeFdt(fdt);
}

async function plan(q: Extract<Request, { type: "plan" }>): Promise<PlanResult> {
  if (!bytes) throw new Error("no file");
  const row = planTableRow(q.arch);
  if (!row) throw new Error(`no plan for ${q.arch}`);
  const memory = q.memory.trim() !== "" ? memoryMapFromCli(q.memory) : undefined;
  let dtb = q.dtb ?? undefined;
  if (row.needs.input === "dtb" && !dtb) {
    if (!memory) throw new Error(`${q.arch} needs a device tree or a memory map`);
    dtb = minimalDtb(memory);
  }
  let seed: bigint | undefined;
  if (q.seed.trim() !== "") seed = BigInt(q.seed.trim());
  const request: PlanRequest = {
    kernel: bytes,
    ...(q.initrdSize > 0 ? { initrd: new Uint8Array(q.initrdSize) } : {}),
    ...(q.cmdline !== "" ? { cmdline: q.cmdline } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(dtb ? { dtb } : {}),
    ...(memory ? { memory } : {}),
  };
  progress({ phase: "plan", done: 0 });
  const p = await row.plan(request);
  const digest = await planDigest(p);
  lastPlan = p;
  const map = memory ?? (dtb ? memoryMapFromFdt(parseFdt(dtb)) : undefined);
  const files = p.segments.map((_, i) => `seg-${i}.bin`);
  return {
    json: planJson(p, undefined, digest),
    svg: planSvg(p, { ...(map ? { memory: map } : {}), scale: q.scale }),
    planFile: JSON.stringify(planJson(p, files, digest), null, 2) + "\n",
    segments: p.segments.map((s, i) => ({ name: s.name, file: files[i] ?? "", bytes: s.bytes.length })),
  };
}

/** A copy of `b` that owns its buffer (to transfer it). */
const own = (b: Uint8Array): Uint8Array => b.slice();

/** The bytes of layer `index` as `kimage extract --layer` writes them (a complete decode). */
async function layerBytes(index: number): Promise<Uint8Array> {
  if (!bytes) throw new Error("no file");
  if (!fullResult) {
    progress({ phase: "decode", done: 0 });
    fullResult = await inspect(bytes, { decode: "full", onProgress: progress });
  }
  const data = fullResult.inputs[index];
  if (!data) throw new Error(`there are ${fullResult.inputs.length} layer(s)`);
  return own(data);
}

function hex(index: number, start: number, length: number): HexResult {
  const r = peek;
  const data = r?.inputs[index];
  const layer = r?.layers[index];
  if (!data || !layer) throw new Error("no such layer");
  const from = Math.min(Math.max(0, Math.floor(start)), data.length);
  const n = Math.min(Math.max(0, Math.floor(length)), 4096, data.length - from);
  return { offset: layer.offset, start: from, bytes: own(data.subarray(from, from + n)), size: data.length };
}

scope.onmessage = (e: MessageEvent<Request>) => {
  const q = e.data;
  const run = async (): Promise<{ result: unknown; transfer?: Transferable[] }> => {
    switch (q.type) {
      case "open":
        return { result: await open(q.file, q.name, q.full) };
      case "verify":
        return { result: await verify(q.anchors, q.mode) };
      case "plan":
        return { result: await plan(q) };
      case "layer": {
        const b = await layerBytes(q.index);
        return { result: b, transfer: [b.buffer] };
      }
      case "segment": {
        const s = lastPlan?.segments[q.index];
        if (!s) throw new Error("no such segment");
        const b = own(s.bytes);
        return { result: b, transfer: [b.buffer] };
      }
      case "hex": {
        const h = hex(q.index, q.start, q.length);
        return { result: h, transfer: [h.bytes.buffer] };
      }
    }
  };
  run().then(
    ({ result, transfer }) => scope.postMessage({ id: q.id, type: "result", result }, transfer ?? []),
    (err: unknown) => {
      const error = isKimageError(err)
        ? { code: err.code, message: err.message, layer: err.layer, offset: err.offset }
        : { code: "error", message: err instanceof Error ? err.message : String(err) };
      scope.postMessage({ id: q.id, type: "error", error });
    },
  );
};
