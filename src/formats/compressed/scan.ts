/**
 * Reading through a compressed stream without holding it: the two ways a
 * codec layer streams its payload.
 *
 * - {@link searchBanner} ("peek" mode): decodes from the start until the
 *   `linux_banner` is found whole, then stops.
 * - {@link scanStream} ("scan" mode, `inspect --full`): decodes to the end,
 *   verifying sizes and checksums, finds the banner and captures IKCONFIG on
 *   the way, and keeps only what inspection of the decoded format reads: the
 *   ranges its `inspectionRanges` hook names and the stream's tail.
 *
 * Both lend the decoder's buffers to their sinks (`StreamDecodeOptions.borrow`)
 * and copy only what they keep, so a scan holds the decoder's window, the kept
 * ranges and the tail, and leaves no garbage per chunk.
 *
 * @module
 */

import { decompress, type CodecProviders, type DecompressResult } from "../../codecs/index.js";
import { createStreamDecoder, streamingCodecs } from "../../codecs/stream.js";
import type { Codec } from "../../codecs/types.js";
import { isKimageError, type Finding } from "../../core/errors.js";
import { findBanner, indexOfBytes, type Banner } from "../../format/banner.js";
import { hookedFormat, inspectionRanges } from "../../format/table.js";
import type { FormatModule, ProgressCallback } from "../../format/types.js";

/** Leading decoded bytes a codec layer decodes first to learn the decoded format. */
export const PEEK_BYTES = 64 * 1024;
/** Decoded bytes kept from the end of a scanned stream (ELF: the section headers and their names, which a linker puts last; a few KiB in a vmlinux). */
export const SCAN_TAIL_BYTES = 1024 * 1024;
/** Most decoded bytes a scan keeps for the ranges the decoded format names (hostile headers may name any). */
export const SCAN_MAX_RANGES = 16 * 1024 * 1024;
/** Most bytes of an IKCONFIG gzip stream captured during a scan. */
const SCAN_MAX_IKCONFIG = 16 * 1024 * 1024;
/** Compressed bytes fed to a streaming decoder at a time. */
const FEED_BYTES = 64 * 1024;
/** Progress is reported at most once per this many compressed bytes. */
const PROGRESS_STEP = 1 << 20;
/** Decoded bytes kept from one chunk to the next, so a banner or marker split across chunks is found whole (a banner is at most 1024 bytes). */
const CARRY = 1100;

const IKCFG_ST = [0x49, 0x4b, 0x43, 0x46, 0x47, 0x5f, 0x53, 0x54]; // "IKCFG_ST"
const IKCFG_ED = [0x49, 0x4b, 0x43, 0x46, 0x47, 0x5f, 0x45, 0x44]; // "IKCFG_ED"

/**
 * Watches a stream of borrowed chunks for the `linux_banner` and, if asked,
 * the IKCONFIG gzip stream (between "IKCFG_ST" and "IKCFG_ED"). It copies the
 * last {@link CARRY} bytes of each chunk, to find what a chunk boundary cuts,
 * and the IKCONFIG bytes once their start is seen; nothing else.
 */
class Watch {
  banner: Banner | null = null;
  /** The IKCONFIG stream once found whole; null while not (yet) found. */
  ikconfig: Uint8Array | null = null;
  /** True once the IKCONFIG search is over (found, or given up past its cap). */
  ikDone: boolean;
  private carry = new Uint8Array(0);
  /** The IKCONFIG bytes captured so far (from just after "IKCFG_ST"), or null before its start. */
  private ik: Uint8Array | null = null;
  private ikLen = 0;

  constructor(ikconfig: boolean) {
    this.ikDone = !ikconfig;
  }

  /** True when there is nothing left to look for. */
  get done(): boolean {
    return this.banner !== null && this.ikDone;
  }

  /** The next chunk, which starts at decoded offset `at`; valid only during the call. */
  feed(chunk: Uint8Array, at: number): void {
    if (this.done) return;
    const carry = this.carry;
    // What the boundary cut: the carry and the start of this chunk (a few KiB at most).
    const edge = carry.length > 0 ? concat2(carry, chunk.subarray(0, CARRY)) : null;
    const edgeAt = at - carry.length;
    if (this.banner === null) {
      let b = edge ? findBanner(edge) : null;
      // From the edge, only a banner that starts in the carry and ends inside the edge; the chunk's own come next.
      if (b && edge && b.offset < carry.length && b.offset + b.text.length < edge.length) this.banner = { ...b, offset: edgeAt + b.offset };
      else {
        b = findBanner(chunk);
        // Accepted only when its line ends inside the chunk; else the carry brings it whole next time.
        if (b && b.offset + b.text.length < chunk.length) this.banner = { ...b, offset: at + b.offset };
      }
    }
    if (!this.ikDone) this.feedIkconfig(chunk, edge, carry.length);
    // The new carry: the last CARRY bytes of the stream so far.
    if (chunk.length >= CARRY) this.carry = chunk.slice(chunk.length - CARRY);
    else {
      const all = concat2(carry, chunk);
      this.carry = all.slice(Math.max(0, all.length - CARRY));
    }
  }

  private feedIkconfig(chunk: Uint8Array, edge: Uint8Array | null, carryLen: number): void {
    if (this.ik === null) {
      // The start: "IKCFG_ST" followed by a gzip header (kernel/Makefile: config_data.gz is `gzip -n -f -9`).
      const start = (buf: Uint8Array, from: number, to: number): number => {
        for (let at = from, guard = 0; guard < 1 << 16; guard++) {
          const st = indexOfBytes(buf, IKCFG_ST, at, to);
          if (st < 0 || st + 10 > buf.length) return -1;
          if (buf[st + 8] === 0x1f && buf[st + 9] === 0x8b) return st + 8;
          at = st + 1;
        }
        return -1;
      };
      let from: Uint8Array | null = null;
      if (edge) {
        // A marker that starts in the carry (one starting in the chunk is found there).
        const s = start(edge, 0, Math.min(edge.length, carryLen + IKCFG_ST.length - 1));
        if (s >= 0) from = edge.subarray(s);
      }
      if (from === null) {
        const s = start(chunk, 0, chunk.length);
        if (s >= 0) from = chunk.subarray(s);
      }
      if (from === null) return;
      this.ik = new Uint8Array(Math.max(1 << 16, from.length));
      this.ikLen = 0;
      this.appendIk(from, edge !== null && from.buffer === edge.buffer ? chunk.subarray(Math.min(chunk.length, CARRY)) : null);
      return;
    }
    this.appendIk(chunk, null);
  }

  /** Appends captured bytes (and `more` after them), then looks for "IKCFG_ED" in what is new. */
  private appendIk(bytes: Uint8Array, more: Uint8Array | null): void {
    for (const part of more ? [bytes, more] : [bytes]) {
      if (this.ik === null) return;
      const from = Math.max(0, this.ikLen - (IKCFG_ED.length - 1));
      if (this.ikLen + part.length > SCAN_MAX_IKCONFIG) {
        // Past the cap without an end marker: not an IKCONFIG stream kimage will read.
        this.ik = null;
        this.ikDone = true;
        return;
      }
      if (this.ik.length < this.ikLen + part.length) {
        const next = new Uint8Array(Math.min(SCAN_MAX_IKCONFIG, Math.max(this.ik.length * 2, this.ikLen + part.length)));
        next.set(this.ik.subarray(0, this.ikLen));
        this.ik = next;
      }
      this.ik.set(part, this.ikLen);
      this.ikLen += part.length;
      const ed = indexOfBytes(this.ik, IKCFG_ED, from, this.ikLen);
      if (ed > 0) {
        this.ikconfig = this.ik.slice(0, ed);
        this.ik = null;
        this.ikDone = true;
        return;
      }
    }
  }
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

/** Feeds `bytes` to `dec` in {@link FEED_BYTES} pieces until `stop()` or its end, reporting progress. */
function feedAll(dec: { write(c: Uint8Array): void; readonly complete: boolean }, bytes: Uint8Array, phase: string, onProgress: ProgressCallback | undefined, stop: () => boolean): number {
  const total = bytes.length;
  let pos = 0;
  let reported = 0;
  while (pos < total && !dec.complete && !stop()) {
    const n = Math.min(FEED_BYTES, total - pos);
    dec.write(bytes.subarray(pos, pos + n));
    pos += n;
    if (onProgress && pos - reported >= PROGRESS_STEP) {
      reported = pos;
      onProgress({ phase, done: pos, total });
    }
  }
  return pos;
}

/**
 * Reads through a compressed stream for the `linux_banner`, from its start,
 * and stops at the first chunk that holds it whole. With a streaming decoder
 * (`streamingCodecs()`) only the decoder's window and one chunk are held;
 * without one, the stream is decoded in one shot (bounded by `maxOutput`) and
 * searched. A decoding error after the prefix becomes a finding (the banner
 * is then unknown), never a failure of the layer.
 */
export async function searchBanner(
  codec: Codec,
  bytes: Uint8Array,
  opts: { base: number; maxOutput: number; providers?: CodecProviders },
  findings: Finding[],
  offset: number,
  onProgress: ProgressCallback | undefined,
): Promise<{ banner: Banner | null; produced: number }> {
  const phase = `decode ${codec}`;
  const total = bytes.length;
  try {
    if (!streamingCodecs().includes(codec)) {
      onProgress?.({ phase, done: 0, total });
      const r = await decompress(bytes, codec, { ...opts, partial: true });
      onProgress?.({ phase, done: r.complete ? r.consumed : total, total });
      return { banner: findBanner(r.bytes), produced: r.bytes.length };
    }
    const watch = new Watch(false);
    let produced = 0;
    const dec = createStreamDecoder(
      codec,
      (chunk) => {
        const at = produced;
        produced += chunk.length;
        watch.feed(chunk, at);
      },
      { base: opts.base, maxOutput: opts.maxOutput, borrow: true },
    );
    const pos = feedAll(dec, bytes, phase, onProgress, () => watch.banner !== null);
    if (!watch.banner && !dec.complete) dec.end();
    onProgress?.({ phase, done: dec.complete ? dec.consumed : pos, total });
    return { banner: watch.banner, produced };
  } catch (e) {
    if (!isKimageError(e)) throw e;
    findings.push({ code: "banner-search-failed", severity: "warning", offset, message: `reading on through the ${codec} stream for the banner failed: ${e.message}` });
    return { banner: null, produced: 0 };
  }
}

/** What {@link scanStream} found. */
export interface Scan {
  /** The stream as one buffer of its full size: the kept ranges filled, the holes zeros (untouched pages). */
  r: DecompressResult;
  /** Ranges `[start, end)` of `r.bytes` not kept, sorted. */
  holes: [number, number][];
  banner: Banner | null;
  ikconfig: Uint8Array | null;
}

/** Sorted, merged ranges clipped to `[0, max)`, keeping at most `budget` bytes in all (the first ranges first). */
function normalise(ranges: readonly (readonly [number, number])[], max: number, budget: number): [number, number][] {
  const sorted = ranges
    .map(([a, b]) => [Math.max(0, Math.min(a, max)), Math.max(0, Math.min(b, max))] as [number, number])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  const kept: [number, number][] = [];
  let left = budget;
  for (const [a, b] of out) {
    if (left <= 0) break;
    const e = Math.min(b, a + left);
    kept.push([a, e]);
    left -= e - a;
  }
  return kept;
}

/**
 * Decodes a whole stream through the streaming decoder ("scan" mode) and
 * keeps only what inspection reads: when the decoded format has an
 * `inspectionRanges` hook and no `trimPadding` hook (an ELF), the ranges the
 * hook names (at most {@link SCAN_MAX_RANGES} bytes) and the last
 * {@link SCAN_TAIL_BYTES}; otherwise it returns null (the caller decodes in
 * one shot and keeps every byte). On the way it finds the `linux_banner` and
 * captures the IKCONFIG stream. The result is one buffer of the full size
 * whose holes were never written (zero pages the OS does not back until
 * touched).
 *
 * Memory: the decoder's window, the kept ranges, the tail and the IKCONFIG
 * bytes; the decoder lends its chunks (`borrow`), so none is copied whole.
 *
 * @throws KimageError as the decoder does (truncated, corrupt, checksums, `expectedSize`, the limit).
 */
export async function scanStream(
  codec: Codec,
  bytes: Uint8Array,
  opts: { base: number; maxOutput: number; expectedSize?: number; providers?: CodecProviders },
  formats: readonly FormatModule[],
  onProgress: ProgressCallback | undefined,
): Promise<Scan | null> {
  // Only a format that names its ranges and does not trim padding gets holes.
  const peek = await decompress(bytes, codec, { base: opts.base, maxOutput: Math.min(PEEK_BYTES, opts.maxOutput), partial: true, ...(opts.providers ? { providers: opts.providers } : {}) });
  if (peek.complete || hookedFormat(peek.bytes, formats, "trimPadding")) return null;
  const named = inspectionRanges(peek.bytes, formats);
  if (named === null) return null;
  const ranges = normalise(named, opts.maxOutput, SCAN_MAX_RANGES);
  const kept = ranges.map(([a, b]) => ({ a, b, buf: null as Uint8Array | null }));
  // The tail: a ring of the last SCAN_TAIL_BYTES decoded bytes.
  let ring = new Uint8Array(0);
  let ringAt = 0; // next write position in the ring
  let produced = 0;
  const watch = new Watch(true);
  const sink = (chunk: Uint8Array): void => {
    const at = produced;
    const end = at + chunk.length;
    produced = end;
    for (const k of kept) {
      if (k.b <= at || k.a >= end) continue;
      const from = Math.max(k.a, at);
      const to = Math.min(k.b, end);
      if (k.buf === null) k.buf = new Uint8Array(k.b - k.a);
      k.buf.set(chunk.subarray(from - at, to - at), from - k.a);
    }
    // Grow the ring to its size only as the stream does (a small stream never allocates it whole).
    // While it grows nothing has wrapped: it holds the stream's bytes at their own offsets.
    if (ring.length < SCAN_TAIL_BYTES && end > ring.length) {
      const next = new Uint8Array(Math.min(SCAN_TAIL_BYTES, Math.max(end, ring.length * 2, 1 << 16)));
      next.set(ring.subarray(0, at));
      ring = next;
      ringAt = at % ring.length;
    }
    const skip = Math.max(0, chunk.length - ring.length);
    ringAt = (ringAt + skip) % ring.length;
    let c = chunk.subarray(skip);
    while (c.length > 0) {
      const n = Math.min(c.length, ring.length - ringAt);
      ring.set(c.subarray(0, n), ringAt);
      ringAt = (ringAt + n) % ring.length;
      c = c.subarray(n);
    }
    watch.feed(chunk, at);
  };
  const dec = createStreamDecoder(codec, sink, { base: opts.base, maxOutput: opts.maxOutput, borrow: true, ...(opts.expectedSize !== undefined ? { expectedSize: opts.expectedSize } : {}) });
  const phase = `decode ${codec}`;
  feedAll(dec, bytes, phase, onProgress, () => false);
  dec.end();
  onProgress?.({ phase, done: dec.consumed, total: bytes.length });

  // One buffer of the full size: the kept ranges, then the tail (last, so it wins where they overlap).
  const out = new Uint8Array(produced);
  for (const k of kept) if (k.buf && k.a < produced) out.set(k.buf.subarray(0, Math.min(k.b, produced) - k.a), k.a);
  const tailLen = Math.min(produced, ring.length);
  const tailAt = produced - tailLen;
  if (tailLen > 0) {
    // The ring's oldest byte is at ringAt once it has wrapped; before that, at 0.
    const start = produced > ring.length ? ringAt : 0;
    const first = ring.subarray(start, Math.min(ring.length, start + tailLen));
    out.set(first, tailAt);
    if (first.length < tailLen) out.set(ring.subarray(0, tailLen - first.length), tailAt + first.length);
  }
  // The holes: what neither a kept range nor the tail covers.
  const holes: [number, number][] = [];
  let at = 0;
  for (const [a, b] of [...ranges, [tailAt, produced] as const].sort((x, y) => x[0] - y[0])) {
    if (a > at) holes.push([at, Math.min(a, produced)]);
    at = Math.max(at, b);
  }
  const r: DecompressResult = { codec, bytes: out, consumed: dec.consumed, complete: true, checked: [...dec.checked] };
  return { r, holes: holes.filter(([a, b]) => b > a), banner: watch.banner, ikconfig: watch.ikconfig };
}
