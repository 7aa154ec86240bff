/**
 * The output of a streaming decoder: a bounded buffer that keeps only the
 * codec's window (the distance a match may reach back) plus one chunk, and
 * hands every other decoded byte to a sink.
 *
 * Layout: `buf[0, length)` holds decoded bytes not yet dropped; the last
 * `window` of them are the history a match may copy from. When a decoder
 * needs room ({@link WindowOutput.ensure}) and the buffer is full, the bytes
 * before the window are emitted to the sink (as a copy the sink owns) and the
 * window moves to the front with `copyWithin`: positions in `buf` then shift
 * down by the amount dropped. So a decoder may keep `buf` and an output
 * position in locals only between calls to `ensure`; after one it re-reads
 * `out.buf` and `out.length`. Absolute positions (for checksums or a
 * dictionary reset) are kept as totals: {@link WindowOutput.total}.
 *
 * Memory: `window + chunk` bytes (the buffer grows beyond that only when a
 * single `ensure` asks for more than a chunk), never more than `maxOutput`.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { DEFAULT_MAX_OUTPUT } from "./types.js";

/** Receives decoded bytes in order; each chunk is a fresh array the sink owns (or, when the decoder was asked to `borrow`, a view valid until the sink returns). */
export type StreamSink = (chunk: Uint8Array) => void;

/** Default chunk: 1 MiB, or the window when that is larger (one copy per window's worth of output). */
export const DEFAULT_STREAM_CHUNK = 1 << 20;

/** A sliding output window with a sink; see the module comment for the contract. */
export class WindowOutput {
  /** The backing buffer; valid bytes are `buf[0, length)`. */
  buf: Uint8Array;
  /** Number of valid bytes in `buf`. */
  length = 0;
  /** Bytes already emitted and dropped from the front of `buf`. */
  flushed = 0;
  /** Bytes emitted to the sink so far (equals `flushed` except during a final flush). */
  emitted = 0;
  /** The history a match may reach back, in bytes. */
  readonly window: number;
  /** The hard cap on total output. */
  readonly max: number;
  private readonly chunk: number;
  private readonly sink: StreamSink;
  /** Lend the sink views of `buf` (valid until it returns) instead of copies. */
  readonly borrow: boolean;
  private readonly layer: string;
  private readonly base: number;

  /**
   * @param layer - error layer id (the codec)
   * @param window - the codec's match distance limit (e.g. the xz dictionary size)
   * @param sink - where decoded bytes go
   * @param options - `maxOutput` (default {@link DEFAULT_MAX_OUTPUT}), `base` for errors, `chunkSize`, `borrow` (see `StreamDecodeOptions.borrow`)
   */
  constructor(layer: string, window: number, sink: StreamSink, options: { maxOutput?: number; base?: number; chunkSize?: number; borrow?: boolean | undefined } = {}) {
    this.layer = layer;
    this.borrow = options.borrow === true;
    this.base = options.base ?? 0;
    this.max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
    this.window = Math.max(0, Math.min(window, this.max));
    this.chunk = Math.max(options.chunkSize ?? DEFAULT_STREAM_CHUNK, 1 << 12);
    this.sink = sink;
    // Start small and grow to window + chunk: a small stream never allocates its whole window.
    this.buf = new Uint8Array(Math.min(this.window + this.chunk, 1 << 16));
  }

  /** Total bytes decoded so far (emitted or still in the buffer). */
  get total(): number {
    return this.flushed + this.length;
  }

  /**
   * Makes room for `n` more bytes after `length`: emits and drops what lies
   * before the window, grows the buffer if needed. Positions in `buf` may
   * shift (re-read `buf` and `length` afterwards).
   *
   * @throws KimageError `limit` when the total output would exceed `maxOutput`.
   */
  ensure(n: number): void {
    if (this.length + n <= this.buf.length) {
      if (this.total + n > this.max) this.overLimit();
      return;
    }
    if (this.total + n > this.max) this.overLimit();
    // Drop what no match can reach any more.
    const drop = this.length - this.window;
    if (drop > 0) {
      this.emit(this.buf.subarray(0, drop));
      this.buf.copyWithin(0, drop, this.length);
      this.length -= drop;
      this.flushed += drop;
    }
    if (this.length + n > this.buf.length) {
      let size = Math.max(this.buf.length * 2, this.window + this.chunk);
      while (size < this.length + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
  }

  /** Appends bytes (as a stored block does). */
  write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, this.chunk);
      this.ensure(n);
      this.buf.set(bytes.subarray(at, at + n), this.length);
      this.length += n;
      at += n;
    }
  }

  /**
   * Emits every byte still in the buffer (the end of the stream); the buffer keeps them as history.
   *
   * @throws KimageError `limit` when more than `maxOutput` bytes were written (a decoder that wrote
   * past what `ensure` checked): no byte past the limit reaches the sink.
   */
  finish(): void {
    if (this.total > this.max) this.overLimit();
    // emit() skips what was already emitted, counting from buf[0] (= `flushed`)
    if (this.total > this.emitted) this.emit(this.buf.subarray(0, this.length));
  }

  /**
   * Emits the decoded bytes not emitted yet in pieces of `chunk` bytes (a
   * decoder that emits between blocks rather than when `ensure` needs room);
   * fewer than `chunk` stay unless `all`. The buffer keeps them as history.
   */
  drain(chunk: number, all: boolean): void {
    for (;;) {
      const pending = this.total - this.emitted;
      if (pending <= 0 || (!all && pending < chunk)) return;
      const from = this.emitted - this.flushed;
      const n = Math.min(pending, chunk);
      this.emitted += n;
      this.sink(this.borrow ? this.buf.subarray(from, from + n) : this.buf.slice(from, from + n));
    }
  }

  private emit(view: Uint8Array): void {
    // Bytes of `view` already emitted by an earlier finish() are skipped.
    const start = this.flushed;
    const skip = Math.max(0, this.emitted - start);
    if (skip >= view.length) return;
    const out = this.borrow ? view.subarray(skip) : view.slice(skip);
    this.emitted += out.length;
    this.sink(out);
  }

  private overLimit(): never {
    throw new KimageError("limit", `decompressed output exceeds the limit of ${this.max} bytes`, { layer: this.layer, offset: this.base });
  }
}
