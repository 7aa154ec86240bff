/**
 * Helpers shared by the codec tests: native tools (which must be installed:
 * a missing tool fails the test, never skips it), deterministic data, real
 * kernel bytes, and error-code capture.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { expect } from "vitest";
import { KimageError, type ErrorCode } from "../../src/core/errors.js";
import { createStreamDecoder, type StreamDecodeOptions, type StreamDecoder } from "../../src/codecs/stream.js";
import type { Codec } from "../../src/codecs/types.js";


/** Runs a native tool; throws (never skips) when it is missing or fails. */
export function tool(cmd: string, args: string[], input?: Uint8Array): Uint8Array {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.error) throw new Error(`${cmd} is required for this test: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}
export const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
export function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
}
export function nativeSeconds(cmd: string, args: string[]): number {
  const t = performance.now();
  tool("sh", ["-c", `${cmd} ${args.join(" ")} > /dev/null`]);
  return (performance.now() - t) / 1000;
}
/** Deterministic mixed data: text-like runs, repeats and noise. */
export function generated(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  const rnd = (): number => ((x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
  const words = ["kernel ", "vmlinuz ", "\x00\x00\x00\x00", "initrd ", "EFI stub ", "\xff\xfe", "mov rax, rbx; "];
  let i = 0;
  while (i < size) {
    const r = rnd();
    if (r < 0.5) {
      const w = words[Math.floor(rnd() * words.length)] as string;
      for (let k = 0; k < w.length && i < size; k++) out[i++] = w.charCodeAt(k);
    } else if (r < 0.8 && i > 64) {
      const d = 1 + Math.floor(rnd() * Math.min(i, 4096));
      const len = 3 + Math.floor(rnd() * 60);
      for (let k = 0; k < len && i < size; k++, i++) out[i] = out[i - d] as number;
    } else out[i++] = Math.floor(rnd() * 256);
  }
  return out;
}
export const REAL = fileURLToPath(new URL("../../fixtures/real/", import.meta.url));
/** The first `size` bytes of a real kernel image (the arm64 Image is uncompressed kernel code), or null. */
export function realKernelBytes(size: number, label: string): Uint8Array | null {
  const found: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 4 || !existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      if (e.isDirectory()) walk(`${d}${e.name}/`, depth + 1);
      else if (e.name.startsWith("vmlinuz-")) found.push(d + e.name);
    }
  };
  walk(REAL, 0);
  found.sort((a, b) => Number(b.includes("arm64")) - Number(a.includes("arm64")));
  const f = found[0];
  if (!f) {
    if (process.env.KIMAGE_REQUIRE_REAL === "1") throw new Error("fixtures/real is absent and KIMAGE_REQUIRE_REAL=1");
    console.warn(`SKIP: fixtures/real is absent (run \`npm run fixtures\`): real-kernel ${label} tests skipped`);
    return null;
  }
  const b = readFileSync(f);
  return new Uint8Array(b.buffer, b.byteOffset, Math.min(size, b.byteLength));
}
export function le32(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
export function codeOf(f: () => unknown): ErrorCode | "ok" {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof KimageError) return e.code;
    throw e;
  }
}


/**
 * Two fast-check properties every decoder must hold: random byte flips plus a
 * random cut of `sample`, and a valid header (the first `header` bytes of
 * `sample`, or the given bytes) followed by random bytes, never throw
 * anything but KimageError.
 */
export function assertOnlyKimageErrors(decode: (input: Uint8Array) => unknown, sample: Uint8Array, header: number | Uint8Array, numRuns = 400): void {
  const head = typeof header === "number" ? sample.subarray(0, header) : header;
  const only = (input: Uint8Array): void => {
    try {
      decode(input);
    } catch (e) {
      if (!(e instanceof KimageError)) throw e;
    }
  };
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(sample.length), (flips, cut) => {
      const b = sample.slice(0, Math.max(1, cut));
      for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
      only(b);
    }),
    { numRuns },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (tail) => only(concat(head, tail))),
    { numRuns },
  );
}

/**
 * Compresses `src` with the native tool, times the native decompression (a
 * whole process) and kimage's (in process, after a warm-up), checks kimage's
 * output, and logs the throughput and the ratio.
 */
export function logThroughput(
  cmd: string,
  compressArgs: string[],
  decode: (input: Uint8Array, expectedSize: number) => { bytes: Uint8Array },
  src: Uint8Array,
  decompressArgs: string[] = ["-dc"],
): { ratio: number; seconds: number; nativeSeconds: number } {
  const z = tool(cmd, compressArgs, src);
  const path = `/tmp/kimage-${cmd}-${process.pid}`;
  tool("sh", ["-c", `cat > ${path}`], z);
  const n = nativeSeconds(cmd, [...decompressArgs, path]);
  tool("rm", ["-f", path]);
  decode(z, src.length); // warm-up
  const [r, s] = time(() => decode(z, src.length));
  if (sha(r.bytes) !== sha(src)) throw new Error(`${cmd}: kimage's output differs from the input`);
  console.log(`${cmd}: ${(src.length / 1e6 / s).toFixed(0)} MB/s on ${src.length} bytes, ${(s / n).toFixed(2)}x ${cmd} ${decompressArgs.join(" ")} (${n.toFixed(3)} s, whole process)`);
  return { ratio: s / n, seconds: s, nativeSeconds: n };
}

/** xorshift32: deterministic test data from a seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/**
 * Runs `f` and expects a KimageError of one of `codes` from `layer`; returns it.
 * Fails on success or on any other exception.
 */
export function expectKimageError(f: () => unknown, codes: ErrorCode | ErrorCode[], layer: string): KimageError {
  const want = Array.isArray(codes) ? codes : [codes];
  try {
    f();
  } catch (e) {
    if (!(e instanceof KimageError)) throw new Error(`expected a KimageError (${want.join("/")}), got ${String(e)}`, { cause: e });
    expect(want).toContain(e.code);
    expect(e.layer).toBe(layer);
    return e;
  }
  throw new Error(`expected a KimageError (${want.join("/")}), but decoding succeeded`);
}

/**
 * Splits `input` into chunks whose sizes are drawn from `sizes` (a fixed size, or a seeded
 * random size in [1, max]): how a streaming decoder is fed in tests.
 */
export function chunked(input: Uint8Array, sizes: number | { max: number; seed: number }): Uint8Array[] {
  const out: Uint8Array[] = [];
  const r = typeof sizes === "number" ? null : rng(sizes.seed);
  for (let at = 0; at < input.length; ) {
    const n = r && typeof sizes !== "number" ? 1 + (r() % sizes.max) : (sizes as number);
    out.push(input.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** What {@link streamDecodeChunks} returns: the decoded bytes and the decoder's final counters. */
export interface StreamedResult {
  bytes: Uint8Array;
  consumed: number;
  produced: number;
  complete: boolean;
  checked: readonly string[];
  /** Number of chunks the sink received. */
  chunks: number;
}

/**
 * Decodes `input` with the streaming decoder of `codec`, fed in chunks drawn from `sizes`
 * (see {@link chunked}), then `end()`; returns the concatenated output.
 */
export async function streamDecodeChunks(
  codec: import("../../src/codecs/types.js").Codec,
  input: Uint8Array,
  sizes: number | { max: number; seed: number },
  options: import("../../src/codecs/stream.js").StreamDecodeOptions = {},
): Promise<StreamedResult> {
  const { createStreamDecoder } = await import("../../src/codecs/stream.js");
  const parts: Uint8Array[] = [];
  const dec = createStreamDecoder(codec, (c) => parts.push(c), options);
  for (const c of chunked(input, sizes)) dec.write(c);
  dec.end();
  return { bytes: concat(...parts), consumed: dec.consumed, produced: dec.produced, complete: dec.complete, checked: dec.checked, chunks: parts.length };
}

let vmlinuxCache: Uint8Array | null | undefined;
/**
 * The bookworm amd64 vmlinux (~66 MB of real kernel): the xz payload of the
 * bzImage in fixtures/real, decoded with kimage's one-shot xz decoder (its
 * sha256 is checked against `xz -dc`'s once here). Null (with a SKIP
 * warning) when fixtures/real is absent. Cached per process.
 */
export async function realVmlinux(): Promise<Uint8Array | null> {
  if (vmlinuxCache !== undefined) return vmlinuxCache;
  // The unsigned bookworm amd64 kernel, found through the manifest (never by its version).
  const manifest = existsSync(`${REAL}manifest.json`) ? (JSON.parse(readFileSync(`${REAL}manifest.json`, "utf8")) as { path: string; suite: string; arch: string; kind: string; signedPackage: boolean }[]) : [];
  const entry = manifest.find((e) => e.suite === "bookworm" && e.arch === "amd64" && e.kind === "kernel" && !e.signedPackage);
  const f = entry ? `${REAL}${entry.path}` : "";
  if (!f || !existsSync(f)) {
    if (process.env.KIMAGE_REQUIRE_REAL === "1") throw new Error("fixtures/real is absent and KIMAGE_REQUIRE_REAL=1");
    console.warn("SKIP: fixtures/real is absent (run `npm run fixtures`): real vmlinux tests skipped");
    return (vmlinuxCache = null);
  }
  const b = new Uint8Array(readFileSync(f));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // Documentation/arch/x86/boot.rst: setup_sects at 0x1f1 (0 means 4), payload_offset/payload_length at 0x248/0x24c from the protected-mode code
  const setup = ((b[0x1f1] as number) || 4) + 1;
  const start = setup * 512 + dv.getUint32(0x248, true);
  const payload = b.subarray(start, start + dv.getUint32(0x24c, true));
  const { decompressXz } = await import("../../src/codecs/xz.js");
  const bytes = decompressXz(payload).bytes;
  const native = tool("xz", ["-dc", "--single-stream"], payload);
  if (sha(native) !== sha(bytes)) throw new Error("realVmlinux: kimage's xz output differs from xz -dc");
  return (vmlinuxCache = bytes);
}

/** What {@link streamDecode} returns. */
export interface StreamRun {
  /** The decoded bytes, concatenated. */
  bytes: Uint8Array;
  /** The length of every chunk the sink received. */
  chunks: number[];
  /** The decoder, after `end()`. */
  decoder: StreamDecoder;
}

/**
 * Decodes `input` with the streaming decoder of `codec`, written in
 * {@link chunked} pieces, then `end()`; collects what the sink receives.
 * Throws what the decoder throws.
 */
export function streamDecode(codec: Codec, input: Uint8Array, sizes: number | { max: number; seed: number }, options: StreamDecodeOptions = {}): StreamRun {
  const parts: Uint8Array[] = [];
  const decoder = createStreamDecoder(codec, (c) => parts.push(c), options);
  for (const piece of chunked(input, sizes)) {
    if (decoder.complete) break;
    decoder.write(piece);
  }
  decoder.end();
  return { bytes: concat(...parts), chunks: parts.map((p) => p.length), decoder };
}

/** The outcome of a decode, for comparing decoders: `"ok"` with the output's sha256, or the KimageError's code, layer and offset. */
export type Outcome = { ok: string } | { code: ErrorCode; layer: string; offset: number };

/** Runs `f` (a decode returning its bytes) and returns its {@link Outcome}; rethrows anything but a KimageError. */
export function outcome(f: () => Uint8Array): Outcome {
  try {
    return { ok: sha(f()) };
  } catch (e) {
    if (e instanceof KimageError) return { code: e.code, layer: e.layer, offset: e.offset };
    throw e;
  }
}

/** What a streaming decode produced: the decoded bytes joined, the decoder's counters, and the emitted chunk sizes. */
export interface ChunkedRun {
  bytes: Uint8Array;
  consumed: number;
  produced: number;
  complete: boolean;
  checked: string[];
  chunks: number[];
}

/**
 * Feeds `input` to the streaming decoder `make(sink)` in chunks (see
 * {@link chunked}), then ends it; returns what it produced.
 */
export function streamRun(
  make: (sink: (chunk: Uint8Array) => void) => {
    write(chunk: Uint8Array): void;
    end(): void;
    readonly consumed: number;
    readonly produced: number;
    readonly complete: boolean;
    readonly checked: readonly string[];
  },
  input: Uint8Array,
  sizes: number | { max: number; seed: number },
): ChunkedRun {
  const parts: Uint8Array[] = [];
  const dec = make((c) => parts.push(c));
  for (const c of chunked(input, sizes)) dec.write(c);
  dec.end();
  return { bytes: concat(...parts), consumed: dec.consumed, produced: dec.produced, complete: dec.complete, checked: [...dec.checked], chunks: parts.map((p) => p.length) };
}

/** The error a call throws as `code@offset` (`layer` too when it is not `layer`), or "ok"; rethrows anything but a KimageError. */
export function errorAt(f: () => unknown, layer?: string): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (!(e instanceof KimageError)) throw e;
    return `${e.code}@${e.offset}${layer !== undefined && e.layer !== layer ? ` (layer ${e.layer})` : ""}`;
  }
}

/**
 * Chunkings a streaming test runs: 1-byte chunks (inputs up to `oneByteMax`
 * bytes), and seeded random sizes up to 7, 1000 and 200000 bytes.
 */
export function chunkings(input: Uint8Array, oneByteMax = 200_000): (number | { max: number; seed: number })[] {
  const list: (number | { max: number; seed: number })[] = [
    { max: 7, seed: 1 },
    { max: 1000, seed: 2 },
    { max: 200_000, seed: 3 },
  ];
  if (input.length <= oneByteMax) list.unshift(1);
  return list;
}

/** Label of a chunking for test output. */
export function chunkLabel(sizes: number | { max: number; seed: number }): string {
  return typeof sizes === "number" ? `${sizes}-byte chunks` : `random chunks ≤ ${sizes.max} (seed ${sizes.seed})`;
}

/**
 * A fast-check property: random byte flips plus a random cut of `sample`,
 * and a random `maxOutput` (0 to 256 KiB), give the same result from the
 * streaming decoder (fed in random chunks) as from the one-shot one: the
 * same output, or the same error code and offset.
 */
export function assertStreamMatchesOneShot(
  oneShot: (input: Uint8Array, maxOutput: number) => { bytes: Uint8Array },
  stream: (input: Uint8Array, sizes: { max: number; seed: number }, maxOutput: number) => { bytes: Uint8Array },
  sample: Uint8Array,
  numRuns = Number(process.env.KIMAGE_FC_RUNS ?? 300),
): void {
  const outcome = (f: () => { bytes: Uint8Array }): string => {
    let r: { bytes: Uint8Array } | undefined;
    const e = errorAt(() => (r = f()));
    return e === "ok" ? `ok ${sha((r as { bytes: Uint8Array }).bytes)}` : e;
  };
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(sample.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      fc.nat(sample.length),
      fc.integer({ min: 1, max: 5000 }),
      fc.nat(),
      fc.integer({ min: 0, max: 1 << 18 }),
      (flips, cut, max, seed, maxOutput) => {
        const b = sample.slice(0, Math.max(1, cut));
        for (const [i, x] of flips) if (i < b.length) b[i] = (b[i] as number) ^ x;
        expect(outcome(() => stream(b, { max, seed }, maxOutput))).toBe(outcome(() => oneShot(b, maxOutput)));
      },
    ),
    { numRuns },
  );
}
