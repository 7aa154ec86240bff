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
 * {@link createGzipStreamDecoder} decodes gzip as a stream (chunks in,
 * chunks out) with bounded state: the header is parsed byte by byte, the
 * deflate data goes through the resumable {@link Inflater} into a 32 KiB
 * window, and CRC32 and ISIZE are computed as the bytes go out.
 *
 * @module
 */

import { KimageError, isKimageError } from "../core/errors.js";
import { crc32 } from "./crc32.js";
import { ChunkFeeder, DEFLATE_WINDOW, INFLATE_HEADER_MARGIN, Inflater, inflateRaw, type FeedStep } from "./inflate.js";
import type { StreamDecodeOptions, StreamDecoder } from "./stream.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";
import { WindowOutput, type StreamSink } from "./window.js";

const LAYER = "gzip";

/** Hints a {@link RawInflater} may use; all optional. */
export interface RawInflateHint {
  /** The output size the container states, to size the output up front. */
  expectedSize?: number;
  /**
   * A guess of the output size, for sizing only: the ISIZE field a gzip file
   * that ends with its member has in its last 4 bytes (RFC 1952: "ISIZE ...
   * the size of the original (uncompressed) input data modulo 2^32"). It may
   * be wrong (trailing bytes, several members, a hostile file): an inflater
   * may size its first buffer from it but must not trust it.
   */
  sizeHint?: number;
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
        if (pos === 0 && input.length >= 4) hint.sizeHint = u32le(input, input.length - 4);
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

// ---- streaming

// Where a GzipStreamDecoder is.
const G_HEADER = 0; // in a member header
const G_BODY = 1; // in the deflate data
const G_TRAILER = 2; // in the CRC32/ISIZE trailer
const G_NEXT = 3; // after a trailer: another member, or the end?
const G_DONE = 4; // the end of the stream was decoded and verified
// Where in a member header.
const H_FIXED = 0; // ID1 ID2 CM FLG MTIME(4) XFL OS
const H_XLEN = 1;
const H_EXTRA = 2;
const H_NAME = 3;
const H_COMMENT = 4;
const H_HCRC = 5;

const GZIP_MAGIC = [0x1f, 0x8b, 8] as const;

/** See {@link createGzipStreamDecoder}. */
class GzipStreamDecoder implements StreamDecoder {
  readonly codec = "gzip" as const;
  private readonly out: WindowOutput;
  private readonly inf: Inflater;
  private readonly feeder: ChunkFeeder;
  private readonly base: number;
  private readonly expectedSize: number | undefined;
  private phase = G_HEADER;
  private hstate = H_FIXED;
  /** A fixed-size field being collected: the 10-byte header, XLEN, CRC16, or the 8-byte trailer. */
  private readonly field = new Uint8Array(10);
  private got = 0;
  private flg = 0;
  private xleft = 0;
  /** CRC32 of the member header so far (for FHCRC). */
  private hcrc = 0;
  /** Absolute offsets of the member and of the field being read. */
  private memberAt = 0;
  private fieldAt = 0;
  /** CRC32 of the member's decoded bytes emitted so far, and the output total where the member starts. */
  private crc = 0;
  private memberOut = 0;
  private readonly checkedSet = new Set<string>();
  private failed: unknown = null;
  private ended = false;
  private readonly step: FeedStep = (input, ip, n, ended, abs0) => this.steps(input, ip, n, ended, abs0);
  private readonly stopped = (): boolean => this.phase === G_DONE;

  constructor(sink: StreamSink, options: StreamDecodeOptions) {
    this.base = options.base ?? 0;
    this.expectedSize = options.expectedSize;
    this.memberAt = this.base;
    // Every decoded byte reaches the sink through here: the member's CRC32 is
    // computed as the bytes go out.
    const tap: StreamSink = (chunk) => {
      this.crc = crc32(chunk, this.crc);
      sink(chunk);
    };
    this.out = new WindowOutput(LAYER, DEFLATE_WINDOW, tap, { maxOutput: options.maxOutput, base: this.base, chunkSize: options.chunkSize, borrow: options.borrow });
    this.inf = new Inflater(this.out, LAYER);
    // The inflater leaves fewer than INFLATE_HEADER_MARGIN + 4 bytes; the rest of the parser at most 2.
    this.feeder = new ChunkFeeder(8 * INFLATE_HEADER_MARGIN, this.base);
  }

  get consumed(): number {
    return this.feeder.consumed;
  }

  get produced(): number {
    return this.out.emitted;
  }

  get complete(): boolean {
    return this.phase === G_DONE;
  }

  get checked(): readonly string[] {
    return [...this.checkedSet];
  }

  write(chunk: Uint8Array): void {
    if (this.failed) throw this.failed;
    if (this.phase === G_DONE || this.ended) return;
    try {
      this.feeder.feed(chunk, false, this.step, this.stopped);
    } catch (e) {
      this.failed = e;
      throw e;
    }
  }

  end(): void {
    if (this.failed) throw this.failed;
    if (this.ended) return;
    this.ended = true;
    try {
      if (this.phase !== G_DONE) this.feeder.feed(new Uint8Array(0), true, this.step, this.stopped);
      if (this.phase !== G_DONE) throw this.error("truncated", "the stream runs past the end of the input", this.base + this.feeder.consumed + this.feeder.held);
    } catch (e) {
      this.failed = e;
      throw e;
    }
  }

  private error(code: "truncated" | "codec-corrupt" | "codec-checksum" | "codec-size-mismatch" | "unsupported", msg: string, offset: number): KimageError {
    return new KimageError(code, `gzip: ${msg}`, { layer: LAYER, offset });
  }

  /** Copies bytes of a fixed-size field into `field[got, want)`; returns the new `ip`. */
  private collect(input: Uint8Array, ip: number, n: number, want: number, header: boolean): number {
    const k = Math.min(want - this.got, n - ip);
    if (k > 0) {
      const part = input.subarray(ip, ip + k);
      this.field.set(part, this.got);
      if (header) this.hcrc = crc32(part, this.hcrc);
      this.got += k;
    }
    return ip + k;
  }

  /** The {@link FeedStep}: runs the member parser over `input[ip, n)`. */
  private steps(input: Uint8Array, ip: number, n: number, ended: boolean, abs0: number): number {
    for (;;) {
      switch (this.phase) {
        case G_HEADER:
          ip = this.header(input, ip, n, ended, abs0);
          if (this.phase === G_HEADER) return ip;
          break;
        case G_BODY:
          ip = this.inf.run(input, ip, n, ended, abs0);
          if (!this.inf.done) return ip;
          // The whole member has been decoded: emit it, which completes its CRC.
          this.out.finish();
          this.phase = G_TRAILER;
          this.got = 0;
          this.fieldAt = abs0 + ip;
          break;
        case G_TRAILER: {
          // RFC 1952 2.3.1: CRC32 "contains a Cyclic Redundancy Check value of
          // the uncompressed data"; ISIZE "contains the size of the original
          // (uncompressed) input data modulo 2^32."
          ip = this.collect(input, ip, n, 8, false);
          if (this.got < 8) {
            if (ended) throw this.error("truncated", "member trailer (CRC32, ISIZE) runs past the end of the input", this.fieldAt);
            return ip;
          }
          if (this.crc !== u32le(this.field, 0)) throw this.error("codec-checksum", "CRC32 of the decompressed data does not match the trailer", this.fieldAt);
          const size = this.out.total - this.memberOut;
          const isize = u32le(this.field, 4);
          if (isize !== size % 2 ** 32) throw this.error("codec-size-mismatch", `ISIZE says ${isize} bytes, the member decoded to ${size}`, this.fieldAt + 4);
          this.checkedSet.add("crc32").add("isize");
          this.phase = G_NEXT;
          break;
        }
        case G_NEXT: {
          // RFC 1952 2.2: "A gzip file consists of a series of "members"
          // (compressed data sets)." Another member follows only if the next
          // bytes are ID1 ID2 CM=8; anything else (the kernel's le32 size) is
          // left alone.
          const k = Math.min(3, n - ip);
          let match = true;
          for (let i = 0; i < k; i++) if (input[ip + i] !== GZIP_MAGIC[i]) match = false;
          if (match && k === 3) {
            this.phase = G_HEADER;
            this.hstate = H_FIXED;
            this.got = 0;
            this.hcrc = 0;
            this.memberAt = abs0 + ip;
            break;
          }
          if (match && !ended) return ip; // a prefix of the magic: wait for more
          this.finishStream();
          return ip;
        }
        default:
          return ip;
      }
    }
  }

  /** Parses (the rest of) a member header; returns the new `ip`. */
  private header(input: Uint8Array, ip: number, n: number, ended: boolean, abs0: number): number {
    for (;;) {
      switch (this.hstate) {
        case H_FIXED: {
          ip = this.collect(input, ip, n, 10, true);
          if (this.got < 10) {
            if (ended) throw this.error("truncated", "member header runs past the end of the input", this.memberAt);
            return ip;
          }
          const h = this.field;
          // RFC 1952 2.3.1: "These have the fixed values ID1 = 31 (0x1f, \037),
          // ID2 = 139 (0x8b, \213)"; "CM = 8 denotes the "deflate" compression method"
          if (h[0] !== 0x1f || h[1] !== 0x8b) throw this.error("codec-corrupt", "not a gzip member (bad ID1/ID2)", this.memberAt);
          if (h[2] !== 8) throw this.error("unsupported", `compression method ${h[2]} is not deflate`, this.memberAt + 2);
          this.flg = h[3] as number;
          // 2.3.1.2: "A compliant decompressor must give an error indication if
          // any reserved bit is non-zero"
          if (this.flg & 0xe0) throw this.error("codec-corrupt", "reserved FLG bits set", this.memberAt + 3);
          this.hstate = this.flg & FEXTRA ? H_XLEN : H_NAME;
          this.got = 0;
          this.fieldAt = abs0 + ip;
          break;
        }
        case H_XLEN:
          // 2.3.1.1: "If the FLG.FEXTRA bit is set, an "extra field" is present in
          // the header, with total length XLEN bytes." (XLEN: 2 bytes, LSB first)
          ip = this.collect(input, ip, n, 2, true);
          if (this.got < 2) {
            if (ended) throw this.error("truncated", "FEXTRA length runs past the end of the input", this.fieldAt);
            return ip;
          }
          this.xleft = (this.field[0] as number) | ((this.field[1] as number) << 8);
          this.hstate = H_EXTRA;
          break;
        case H_EXTRA: {
          const k = Math.min(this.xleft, n - ip);
          this.hcrc = crc32(input.subarray(ip, ip + k), this.hcrc);
          ip += k;
          this.xleft -= k;
          if (this.xleft > 0) {
            if (ended) throw this.error("truncated", "FEXTRA field runs past the end of the input", this.fieldAt);
            return ip;
          }
          this.hstate = H_NAME;
          this.fieldAt = abs0 + ip;
          break;
        }
        case H_NAME:
        case H_COMMENT: {
          // 2.3.1: "If FNAME is set, an original file name is present,
          // terminated by a zero byte." "If FCOMMENT is set, a zero-terminated
          // file comment is present."
          const bit = this.hstate === H_NAME ? FNAME : FCOMMENT;
          if (this.flg & bit) {
            const z = input.subarray(ip, n).indexOf(0);
            const end = z < 0 ? n : ip + z + 1;
            this.hcrc = crc32(input.subarray(ip, end), this.hcrc);
            ip = end;
            if (z < 0) {
              if (ended) throw this.error("truncated", `${bit === FNAME ? "FNAME" : "FCOMMENT"} is not terminated before the end of the input`, this.fieldAt);
              return ip;
            }
          }
          this.hstate = this.hstate === H_NAME ? H_COMMENT : H_HCRC;
          this.fieldAt = abs0 + ip;
          this.got = 0;
          break;
        }
        default: {
          if (this.flg & FHCRC) {
            // 2.3.1: "If FHCRC is set, a CRC16 for the gzip header is present,
            // immediately before the compressed data. The CRC16 consists of the
            // two least significant bytes of the CRC32 for all bytes of the gzip
            // header up to and not including the CRC16."
            ip = this.collect(input, ip, n, 2, false);
            if (this.got < 2) {
              if (ended) throw this.error("truncated", "header CRC16 runs past the end of the input", this.fieldAt);
              return ip;
            }
            const want = (this.field[0] as number) | ((this.field[1] as number) << 8);
            if ((this.hcrc & 0xffff) !== want) throw this.error("codec-checksum", "header CRC16 mismatch", this.fieldAt);
            this.checkedSet.add("header-crc16");
          }
          // The deflate data starts here.
          this.inf.reset();
          this.crc = 0;
          this.memberOut = this.out.total;
          this.phase = G_BODY;
          return ip;
        }
      }
    }
  }

  private finishStream(): void {
    this.phase = G_DONE;
    if (this.expectedSize !== undefined && this.out.total !== this.expectedSize) {
      throw this.error("codec-size-mismatch", `decoded ${this.out.total} bytes, expected ${this.expectedSize}`, this.base);
    }
  }
}

/**
 * A streaming gzip decoder (RFC 1952): write compressed chunks, decoded
 * chunks go to `sink`. The same members, checks and errors as
 * {@link decompressGzip} with the pure-JS inflater: every member's header
 * (FEXTRA, FNAME, FCOMMENT, FHCRC), CRC32 and ISIZE are verified; another
 * member is decoded while the bytes after a trailer start with 1f 8b 08, and
 * other bytes after the last trailer (the kernel's le32 size) are not
 * consumed. `maxOutput` is `limit`, `expectedSize` is checked at the end
 * (`codec-size-mismatch`).
 *
 * Bounded state, whatever the input: a 32 KiB window plus one output chunk
 * ({@link WindowOutput}), the inflater's tables (~60 KiB) and an 8 KiB carry
 * buffer for the bytes a step could not use yet (fewer than 1 KiB + 4: a
 * dynamic block header is decoded only once 1 KiB of input is at hand, a
 * symbol once 16 bytes are, unless the input has ended). Input chunks are
 * decoded in place, never accumulated.
 */
export function createGzipStreamDecoder(sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  return new GzipStreamDecoder(sink, options);
}
