/**
 * The `.lzma` ("LZMA alone", LZMA_Alone / LZMA Utils) format, as the kernel's
 * `CONFIG_KERNEL_LZMA` payloads use it (`lzma -9` output).
 *
 * Header (13 bytes; LZMA SDK lzma-specification / xz's alone_decoder.c):
 *
 *     +------------+----+----+----+----+--+--+--+--+--+--+--+--+
 *     | Properties |  Dictionary Size  |   Uncompressed Size   |
 *     +------------+----+----+----+----+--+--+--+--+--+--+--+--+
 *
 * - "Properties: (pb * 5 + lp) * 9 + lc", one byte, < 225.
 * - "Dictionary Size: unsigned 32-bit little endian."
 * - "Uncompressed Size: unsigned 64-bit little endian; -1 (all ones) means
 *   unknown, and then the end-of-payload marker must be present." With a
 *   known size the marker may still follow the last byte (xz >= 5.4 accepts
 *   both).
 *
 * The compressed data follows directly; nothing follows the stream in the
 * format, so `consumed` is where the range coder stopped. The dictionary
 * size is not needed for one-shot decoding (the output is the window);
 * distances are checked against the bytes decoded so far, as the kernel's
 * own unlzma does. The streaming decoder ({@link createLzmaStreamDecoder})
 * keeps a window of the header's dictionary size (at least 4 KiB, as
 * liblzma) and refuses distances beyond it.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { decodeLzmaProps, LZMA_IN_REQUIRED, LzmaDecoder, LzmaWindow, StreamInput, type LzmaProps } from "./lzma.js";
import { OutputBuffer, outputGuess } from "./output.js";
import type { StreamDecodeOptions, StreamDecoder } from "./stream.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions, type DecompressResult } from "./types.js";
import { DEFAULT_STREAM_CHUNK, type StreamSink } from "./window.js";

const LAYER = "lzma";

/**
 * Decodes a `.lzma` (LZMA alone) stream.
 *
 * - `truncated`: the header or the range-coded data ends early;
 * - `codec-corrupt`: bad properties byte, a distance before the start of the
 *   data, an end marker before the declared size, a match past it, or a
 *   range coder that does not finish cleanly;
 * - `limit`: more than `maxOutput` bytes (with `partial`: stop and return
 *   them with `complete: false`);
 * - `codec-size-mismatch`: output length differs from `expectedSize`.
 *
 * `checked` is always `[]` (the format has no checksum).
 */
export function decompressLzma(input: Uint8Array, options: DecompressOptions = {}): DecompressResult {
  const base = options.base ?? 0;
  const partial = options.partial ?? false;
  if (input.length < 13) {
    throw new KimageError("truncated", ".lzma header needs 13 bytes", { layer: LAYER, offset: base + input.length });
  }
  const props = decodeLzmaProps(input[0] as number);
  if (props === null) throw new KimageError("codec-corrupt", `invalid .lzma properties byte 0x${(input[0] as number).toString(16)}`, { layer: LAYER, offset: base });
  const u32 = (at: number): number => ((input[at] as number) | ((input[at + 1] as number) << 8) | ((input[at + 2] as number) << 16) | ((input[at + 3] as number) << 24)) >>> 0;
  const sizeLo = u32(5);
  const sizeHi = u32(9);
  const known = sizeLo === 0xffffffff && sizeHi === 0xffffffff ? undefined : sizeHi * 2 ** 32 + sizeLo;

  // Output buffer: the caller's expectedSize, else the declared size, but
  // never more than a generous multiple of the input up front (a lying
  // header must not allocate the whole cap); it grows by doubling.
  const guess = Math.min(known ?? Infinity, outputGuess(input.length));
  const ob = new OutputBuffer(LAYER, options, guess);
  const max = ob.max;
  const limitError = (): KimageError =>
    new KimageError("limit", `decompressed output exceeds the limit of ${max} bytes`, { layer: LAYER, offset: base });
  if (known !== undefined && known > max && !partial) throw limitError();
  const target = Math.min(known ?? Infinity, max);

  if (input.length < 18) throw new KimageError("truncated", ".lzma data ends early", { layer: LAYER, offset: base + input.length });
  const dec = new LzmaDecoder(LAYER, base);
  dec.setProps(props);
  dec.dictStart = 0;
  dec.initRange(input, 13);
  const truncated = (): never => {
    throw new KimageError("truncated", ".lzma data ends early", { layer: LAYER, offset: base + input.length });
  };

  // Decode until the end marker, the declared size or the cap; grow the
  // buffer (doubling, bounded by the cap) whenever it is full.
  while (ob.length < target) {
    if (ob.length === ob.buf.length) ob.ensure(Math.min(ob.buf.length, target - ob.length));
    ob.length = dec.run(input, input.length, ob.buf, ob.length, Math.min(ob.buf.length, target));
    if (dec.inPos > input.length) truncated();
    if (dec.finished) break;
  }

  let complete = true;
  if (dec.finished) {
    if (known !== undefined && ob.length !== known) dec.corrupt(".lzma end marker before the declared uncompressed size");
  } else if (known !== undefined && ob.length === known) {
    if (dec.pendingLen !== 0) dec.corrupt(".lzma match runs past the declared uncompressed size");
    // "Known size and an end marker" is allowed: if the range coder has not
    // finished, the next symbol must be the marker.
    if (!dec.rangeFinished() && !dec.decodeEndMarker(input, ob.length)) dec.corrupt(".lzma data continues past the declared uncompressed size");
    if (dec.inPos > input.length) truncated();
  } else {
    // The cap stopped us. If the stream ends exactly here, the output is
    // complete; otherwise it is `limit` (or a partial result).
    const endsHere = dec.pendingLen === 0 && dec.decodeEndMarker(input, ob.length) && dec.inPos <= input.length;
    if (!endsHere) {
      if (!partial) throw limitError();
      complete = false;
    }
  }
  if (complete && !dec.rangeFinished()) dec.corrupt(".lzma range coder did not finish cleanly (Code != 0)");

  if (complete && !partial && options.expectedSize !== undefined && ob.length !== options.expectedSize) {
    throw new KimageError("codec-size-mismatch", `.lzma output is ${ob.length} bytes, expected ${options.expectedSize}`, { layer: LAYER, offset: base });
  }
  return { codec: "lzma", bytes: ob.result(), consumed: Math.min(dec.inPos, input.length), complete, checked: [] };
}

/** Where the streaming decoder is. */
const S_HEADER = 0;
const S_INIT = 1;
const S_DATA = 2;
const S_DONE = 3;

/** The smallest dictionary liblzma uses ("LZMA_DICT_SIZE_MIN"). */
const DICT_MIN = 4096;

/** See {@link createLzmaStreamDecoder}. */
class LzmaStreamDecoder extends StreamInput implements StreamDecoder {
  readonly codec = "lzma" as const;
  readonly checked: readonly string[] = [];
  private readonly sink: StreamSink;
  private readonly base: number;
  private readonly max: number;
  private readonly expectedSize: number | undefined;
  private readonly dec: LzmaDecoder;
  private readonly win: LzmaWindow;
  private state = S_HEADER;
  private endOffset = 0;
  private out = 0;
  /** Bytes decoded. */
  private total = 0;
  /** The declared uncompressed size, if any. */
  private known: number | undefined;
  /** Decode up to here: the declared size or the cap. */
  private target = 0;

  constructor(sink: StreamSink, options: StreamDecodeOptions) {
    super();
    this.sink = sink;
    this.base = options.base ?? 0;
    this.max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
    this.expectedSize = options.expectedSize;
    this.dec = new LzmaDecoder(LAYER, this.base);
    const chunk = Math.max(options.chunkSize ?? DEFAULT_STREAM_CHUNK, 1 << 12);
    this.win = new LzmaWindow(
      (b) => {
        this.out += b.length;
        this.sink(b);
      },
      chunk,
      options.expectedSize,
    );
    this.win.views = options.borrow === true;
  }

  get consumed(): number {
    return this.done ? this.endOffset : this.at;
  }

  get produced(): number {
    return this.out;
  }

  get complete(): boolean {
    return this.done;
  }

  /** Symbols start while 21 bytes are available: gather twice that across chunk boundaries (as xz-embedded's temp buffer). */
  protected override gather(): number {
    return this.state === S_DATA ? 2 * LZMA_IN_REQUIRED : this.want;
  }

  private error(code: "truncated" | "codec-corrupt" | "limit" | "codec-size-mismatch", message: string, at: number): never {
    throw new KimageError(code, message, { layer: LAYER, offset: this.base + at });
  }

  protected pump(v: Uint8Array, p: number, e: number, final: boolean): number {
    const dec = this.dec;
    if (this.state === S_HEADER) {
      if (e - p < 13) {
        if (final) this.error("truncated", ".lzma header needs 13 bytes", this.vBase + e);
        this.want = 13;
        return p;
      }
      // "Properties: (pb * 5 + lp) * 9 + lc", one byte, < 225.
      const props = decodeLzmaProps(v[p] as number);
      if (props === null) this.error("codec-corrupt", `invalid .lzma properties byte 0x${(v[p] as number).toString(16)}`, 0);
      const u32 = (at: number): number => ((v[at] as number) | ((v[at + 1] as number) << 8) | ((v[at + 2] as number) << 16) | ((v[at + 3] as number) << 24)) >>> 0;
      // "Dictionary Size: unsigned 32-bit little endian."
      const dictSize = u32(p + 1);
      // "Uncompressed Size: unsigned 64-bit little endian; -1 (all ones)
      // means unknown, and then the end-of-payload marker must be present."
      const sizeLo = u32(p + 5);
      const sizeHi = u32(p + 9);
      this.known = sizeLo === 0xffffffff && sizeHi === 0xffffffff ? undefined : sizeHi * 2 ** 32 + sizeLo;
      if (this.known !== undefined && this.known > this.max) this.limit();
      this.target = Math.min(this.known ?? Infinity, this.max);
      dec.setProps(props as LzmaProps);
      // The window: the declared dictionary (at least 4 KiB), but no more
      // than the output can ever be.
      this.win.reset(Math.min(Math.max(dictSize, DICT_MIN), this.target), dec);
      p += 13;
      this.state = S_INIT;
    }
    if (this.state === S_INIT) {
      if (e - p < 5) {
        if (final) this.error("truncated", ".lzma data ends early", this.vBase + e);
        this.want = 5;
        return p;
      }
      dec.base = this.base + this.vBase;
      dec.initRange(v, p);
      p += 5;
      this.state = S_DATA;
    }
    if (this.state !== S_DATA) return p;
    return this.data(v, p, e, final);
  }

  private limit(): never {
    this.error("limit", `decompressed output exceeds the limit of ${this.max} bytes`, 0);
  }

  /** Range-coded data at `v[p]`: symbols while 21 bytes are available (all of them at the end). */
  private data(v: Uint8Array, p: number, e: number, final: boolean): number {
    const dec = this.dec;
    const win = this.win;
    dec.base = this.base + this.vBase;
    dec.inPos = p;
    const truncated = (): never => this.error("truncated", ".lzma data ends early", this.vBase + e);
    if (this.total < this.target && !dec.finished) {
      this.total += win.decode(dec, v, final ? e : e - LZMA_IN_REQUIRED, this.target - this.total, e);
      if (dec.inPos > e) truncated();
    }
    if (!dec.finished && this.total < this.target) {
      // Fewer than 21 bytes left: wait for more. (At the end of the input
      // the decoder only stops by reading past it.)
      if (final) truncated();
      this.want = LZMA_IN_REQUIRED;
      return dec.inPos;
    }
    const wait = !final && e - dec.inPos < LZMA_IN_REQUIRED;
    if (dec.finished) {
      if (this.known !== undefined && this.total !== this.known) dec.corrupt(".lzma end marker before the declared uncompressed size");
    } else if (this.known !== undefined && this.total === this.known) {
      if (dec.pendingLen !== 0) dec.corrupt(".lzma match runs past the declared uncompressed size");
      // "Known size and an end marker" is allowed: if the range coder has
      // not finished, the next symbol must be the marker.
      if (!dec.rangeFinished()) {
        if (wait) {
          this.want = LZMA_IN_REQUIRED;
          return dec.inPos;
        }
        if (!dec.decodeEndMarker(v, win.pos)) dec.corrupt(".lzma data continues past the declared uncompressed size");
        if (dec.inPos > e) truncated();
      }
    } else {
      // The cap stopped us. If the stream ends exactly here, it is complete;
      // otherwise it is `limit`.
      if (wait) {
        this.want = LZMA_IN_REQUIRED;
        return dec.inPos;
      }
      const endsHere = dec.pendingLen === 0 && dec.decodeEndMarker(v, win.pos) && dec.inPos <= e;
      if (!endsHere) this.limit();
    }
    if (!dec.rangeFinished()) dec.corrupt(".lzma range coder did not finish cleanly (Code != 0)");
    win.flush();
    this.done = true;
    this.state = S_DONE;
    this.endOffset = this.vBase + dec.inPos;
    if (this.expectedSize !== undefined && this.out !== this.expectedSize) {
      this.error("codec-size-mismatch", `.lzma output is ${this.out} bytes, expected ${this.expectedSize}`, 0);
    }
    return dec.inPos;
  }
}

/**
 * A streaming `.lzma` decoder ({@link StreamDecoder}) with the same errors
 * and offsets as {@link decompressLzma}. The format is one continuous
 * range-coded stream, so it decodes symbols only while at least 21 input
 * bytes are available ("LZMA_IN_REQUIRED", xz-embedded's rule: the most one
 * symbol can take) or the input has ended, and keeps the decoder's state
 * between writes. What it holds: the dictionary as a circular buffer of the
 * header's dictionary size (at least 4 KiB, at most the declared size or
 * `maxOutput`), grown on demand; decoded bytes leave it in chunks of at most
 * `chunkSize` (default 1 MiB); and fewer than 42 bytes of input.
 *
 * Unlike the one-shot decoder, a match distance beyond the window is
 * `codec-corrupt` (as in liblzma). `checked` is always `[]`.
 */
export function createLzmaStreamDecoder(sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  return new LzmaStreamDecoder(sink, options);
}
