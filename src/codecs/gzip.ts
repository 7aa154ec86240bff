/**
 * gzip (RFC 1952): an own header/trailer parser around a pluggable raw
 * DEFLATE inflater, so that kernel payloads, which carry bytes after the
 * gzip member (the le32 size the kernel build appends), decode without
 * error and report exactly where the member ended.
 *
 * The default inflater is the pure-JS {@link inflateRaw} (works in
 * browsers); `kimage/node` offers `nodeInflater` on node:zlib, which is
 * faster. {@link decompressGzipStream} can use the platform's
 * `DecompressionStream("deflate-raw")` when the member's end is known.
 *
 * @module
 */

import { KimageError, isKimageError } from "../core/errors.js";
import { crc32 } from "./crc32.js";
import { inflateRaw } from "./inflate.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";

const LAYER = "gzip";

/** Hints a {@link RawInflater} may use; all optional. */
export interface RawInflateHint {
  /** The output size the container states, to size the output up front. */
  expectedSize?: number;
  /** Absolute offset of `input[0]`, for error offsets. */
  base?: number;
}

/**
 * A synchronous raw-DEFLATE inflater: inflates the deflate stream at the
 * start of `input` (bytes after its final block may follow and must be left
 * alone), producing at most `maxOutput` bytes, and reports how many input
 * bytes the stream occupied. It should throw a KimageError (`limit` past
 * `maxOutput`, `codec-corrupt`, `truncated`); any other error it throws is
 * reported as `codec-corrupt`.
 */
export interface RawInflater {
  inflateRaw(input: Uint8Array, maxOutput: number, hint?: RawInflateHint): { bytes: Uint8Array; consumed: number };
}

/** The default inflater: the pure-JS, browser-safe {@link inflateRaw}. */
export const jsInflater: RawInflater = {
  inflateRaw(input, maxOutput, hint) {
    const r = inflateRaw(input, { maxOutput, expectedSize: hint?.expectedSize, base: hint?.base, layer: LAYER });
    return { bytes: r.bytes, consumed: r.consumed };
  },
};

/** Options of {@link decompressGzip}. */
export interface GzipOptions extends DecompressOptions {
  /** The raw inflater to use (default {@link jsInflater}). Ignored with `partial`, which always uses the built-in one. */
  inflater?: RawInflater;
}

/** Options of {@link decompressGzipStream}. */
export interface GzipStreamOptions extends DecompressOptions {
  /**
   * The caller asserts that `input` is exactly one gzip member, nothing
   * after its trailer. Only then is the deflate stream's end known before
   * inflating (`input.length - 8`), which `DecompressionStream` needs: it
   * cannot report where a stream ended and, in browsers, rejects bytes after it.
   */
  exactLength?: boolean;
}

// RFC 1952 2.3.1: "FLG: bit 0 FTEXT, bit 1 FHCRC, bit 2 FEXTRA, bit 3 FNAME,
// bit 4 FCOMMENT, bits 5-7 reserved"
const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

function fail(code: "truncated" | "codec-corrupt" | "codec-checksum" | "codec-size-mismatch" | "unsupported", msg: string, options: DecompressOptions, at: number): KimageError {
  return new KimageError(code, `gzip: ${msg}`, { layer: LAYER, offset: (options.base ?? 0) + at });
}

/** True when `input[pos..]` starts like a gzip member (ID1 ID2 CM=8). */
function isMember(input: Uint8Array, pos: number): boolean {
  return input.length - pos >= 3 && input[pos] === 0x1f && input[pos + 1] === 0x8b && input[pos + 2] === 8;
}

/**
 * Parses a member header at `pos`; returns the offset of the deflate data
 * and which header checks passed.
 */
function parseHeader(input: Uint8Array, pos: number, options: DecompressOptions, checked: Set<string>): number {
  const n = input.length;
  // "ID1 = 31 (0x1f), ID2 = 139 (0x8b)"; "CM = 8 denotes the deflate method"
  if (n - pos < 10) throw fail("truncated", "member header runs past the end of the input", options, pos);
  if (input[pos] !== 0x1f || input[pos + 1] !== 0x8b) throw fail("codec-corrupt", "not a gzip member (bad ID1/ID2)", options, pos);
  if (input[pos + 2] !== 8) throw fail("unsupported", `compression method ${input[pos + 2]} is not deflate`, options, pos + 2);
  const flg = input[pos + 3] as number;
  // "A compliant decompressor must give an error indication if any reserved bit is non-zero"
  if (flg & 0xe0) throw fail("codec-corrupt", "reserved FLG bits set", options, pos + 3);
  // MTIME (4), XFL (1), OS (1) follow; nothing to check in them.
  let p = pos + 10;
  if (flg & FEXTRA) {
    // "If FLG.FEXTRA is set, the optional extra field is present: XLEN (2 bytes LE), then XLEN bytes"
    if (n - p < 2) throw fail("truncated", "FEXTRA length runs past the end of the input", options, p);
    const xlen = (input[p] as number) | ((input[p + 1] as number) << 8);
    if (n - p - 2 < xlen) throw fail("truncated", "FEXTRA field runs past the end of the input", options, p);
    p += 2 + xlen;
  }
  // "If FLG.FNAME is set, an original file name is present, terminated by a
  // zero byte"; likewise FCOMMENT. Scans never pass the end of the input.
  for (const bit of [FNAME, FCOMMENT]) {
    if (flg & bit) {
      const z = input.indexOf(0, p);
      if (z < 0) throw fail("truncated", `${bit === FNAME ? "FNAME" : "FCOMMENT"} is not terminated before the end of the input`, options, p);
      p = z + 1;
    }
  }
  if (flg & FHCRC) {
    // "If FHCRC is set, a CRC16 for the gzip header is present: the two least
    // significant bytes of the CRC32 of all bytes up to and not including the CRC16"
    if (n - p < 2) throw fail("truncated", "header CRC16 runs past the end of the input", options, p);
    const want = (input[p] as number) | ((input[p + 1] as number) << 8);
    if ((crc32(input.subarray(pos, p)) & 0xffff) !== want) throw fail("codec-checksum", "header CRC16 mismatch", options, p);
    checked.add("header-crc16");
    p += 2;
  }
  return p;
}

function u32le(d: Uint8Array, i: number): number {
  return ((d[i] as number) | ((d[i + 1] as number) << 8) | ((d[i + 2] as number) << 16) | ((d[i + 3] as number) << 24)) >>> 0;
}

/** Checks a member's trailer at `t` against its output: "CRC32 (LE), then ISIZE: the input size modulo 2^32 (LE)". */
function checkTrailer(input: Uint8Array, t: number, data: Uint8Array, options: DecompressOptions): void {
  if (input.length - t < 8) throw fail("truncated", "member trailer (CRC32, ISIZE) runs past the end of the input", options, t);
  if (crc32(data) !== u32le(input, t)) throw fail("codec-checksum", "CRC32 of the decompressed data does not match the trailer", options, t);
  const isize = u32le(input, t + 4);
  if (isize !== data.length % 2 ** 32) {
    throw fail("codec-size-mismatch", `ISIZE says ${isize} bytes, the member decoded to ${data.length}`, options, t + 4);
  }
}

/**
 * Decompresses gzip data: one member, and further members only while the
 * bytes after a trailer start with the gzip magic (1f 8b 08). Every
 * member's CRC32 and ISIZE are verified (and the header CRC16 when present).
 * `consumed` ends at the last member's trailer; bytes after it (such as the
 * kernel's le32 size) are not read.
 *
 * Errors: `truncated`, `codec-corrupt`, `codec-checksum` (CRC32 or CRC16),
 * `codec-size-mismatch` (ISIZE, or `expectedSize`), `unsupported` (CM != 8),
 * `limit`.
 */
export function decompressGzip(input: Uint8Array, options: GzipOptions = {}): DecompressResult {
  const base = options.base ?? 0;
  const max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
  const inflater = options.inflater ?? jsInflater;
  const checked = new Set<string>();
  const parts: Uint8Array[] = [];
  let total = 0;
  let pos = 0;
  let complete = true;
  do {
    const data = parseHeader(input, pos, options, checked);
    const room = max - total;
    let bytes: Uint8Array;
    let consumed: number;
    if (options.partial) {
      const r = inflateRaw(input.subarray(data), { maxOutput: room, partial: true, base: base + data, layer: LAYER });
      bytes = r.bytes;
      consumed = r.consumed;
      if (!r.complete) {
        parts.push(bytes);
        total += bytes.length;
        complete = false;
        break;
      }
    } else {
      try {
        const hint: RawInflateHint = { base: base + data };
        if (pos === 0 && options.expectedSize !== undefined) hint.expectedSize = options.expectedSize;
        ({ bytes, consumed } = inflater.inflateRaw(input.subarray(data), room, hint));
      } catch (e) {
        if (isKimageError(e)) throw e;
        throw new KimageError("codec-corrupt", `gzip: inflater failed: ${e instanceof Error ? e.message : String(e)}`, { layer: LAYER, offset: base + data, cause: e });
      }
      if (bytes.length > room) throw new KimageError("limit", `gzip: decompressed output exceeds the limit of ${max} bytes`, { layer: LAYER, offset: base + data });
    }
    const t = data + consumed;
    checkTrailer(input, t, bytes, options);
    checked.add("crc32").add("isize");
    parts.push(bytes);
    total += bytes.length;
    pos = t + 8;
  } while (isMember(input, pos));

  let bytes: Uint8Array;
  if (parts.length === 1) bytes = parts[0] as Uint8Array;
  else {
    bytes = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
  }
  if (complete && !options.partial && options.expectedSize !== undefined && total !== options.expectedSize) {
    throw fail("codec-size-mismatch", `decoded ${total} bytes, expected ${options.expectedSize}`, options, 0);
  }
  return { codec: "gzip", bytes, consumed: pos, complete, checked: [...checked] };
}

interface DecompressionStreamLike {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}
type DecompressionStreamCtor = new (format: string) => DecompressionStreamLike;

/**
 * Asynchronous gzip decoding that uses the platform's
 * `DecompressionStream("deflate-raw")` (browsers; Node 18+ too) when it
 * applies, and {@link decompressGzip} otherwise. It applies only when the
 * caller passes `exactLength: true` (the input is exactly one member) and
 * neither `partial` is set nor a custom `inflater` is given, and the
 * platform has a `DecompressionStream` that accepts "deflate-raw". The
 * output is still bounded (reading stops at `maxOutput`: `limit`), and CRC32
 * and ISIZE are still verified here. Without `exactLength` the end of the
 * member is unknown before inflating, so the sync decoder is used.
 */
export async function decompressGzipStream(input: Uint8Array, options: GzipStreamOptions & { inflater?: RawInflater } = {}): Promise<DecompressResult> {
  const Ctor = (globalThis as { DecompressionStream?: DecompressionStreamCtor }).DecompressionStream;
  if (!options.exactLength || options.partial || options.inflater || typeof Ctor !== "function") return decompressGzip(input, options);
  let ds: DecompressionStreamLike;
  try {
    ds = new Ctor("deflate-raw");
  } catch {
    return decompressGzip(input, options);
  }
  const checked = new Set<string>();
  const data = parseHeader(input, 0, options, checked);
  const t = input.length - 8;
  if (t < data) throw fail("truncated", "member trailer (CRC32, ISIZE) runs past the end of the input", options, data);
  const base = options.base ?? 0;
  const max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
  const isize = u32le(input, t + 4);
  const want = options.expectedSize ?? isize;
  let buf = new Uint8Array(Math.min(max, Math.max(64, want)));
  let len = 0;
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  // Errors surface on the reader; the writer's promises are observed so they are never unhandled.
  const writing = writer.write(input.subarray(data, t)).then(() => writer.close()).catch(() => undefined);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.length > max - len) {
        await reader.cancel().catch(() => undefined);
        throw new KimageError("limit", `gzip: decompressed output exceeds the limit of ${max} bytes`, { layer: LAYER, offset: base + data });
      }
      if (len + value.length > buf.length) {
        let size = Math.max(buf.length * 2, 1 << 16);
        while (size < len + value.length) size *= 2;
        const next = new Uint8Array(Math.min(size, max));
        next.set(buf.subarray(0, len));
        buf = next;
      }
      buf.set(value, len);
      len += value.length;
    }
  } catch (e) {
    if (isKimageError(e)) throw e;
    throw new KimageError("codec-corrupt", `gzip: DecompressionStream failed: ${e instanceof Error ? e.message : String(e)}`, { layer: LAYER, offset: base + data, cause: e });
  } finally {
    await writing;
  }
  const bytes = buf.subarray(0, len);
  checkTrailer(input, t, bytes, options);
  checked.add("crc32").add("isize");
  if (options.expectedSize !== undefined && len !== options.expectedSize) {
    throw fail("codec-size-mismatch", `decoded ${len} bytes, expected ${options.expectedSize}`, options, 0);
  }
  return { codec: "gzip", bytes, consumed: input.length, complete: true, checked: [...checked] };
}
