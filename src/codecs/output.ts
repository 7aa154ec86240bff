/**
 * A bounded, growable output buffer shared by the decoders: it starts at
 * `expectedSize` (or a small guess), doubles up to `maxOutput`, and throws
 * `limit` beyond it, so no input can make a decoder allocate without bound.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { DEFAULT_MAX_OUTPUT, type DecompressOptions } from "./types.js";

/**
 * The first size of an output buffer for `inputLength` compressed bytes
 * when the container states no size: 16× the input (kernels compress 3–9×),
 * at least 64 KiB; {@link OutputBuffer} caps it at `maxOutput`.
 *
 * Generous on purpose: a fresh array's pages cost nothing until written
 * (V8 allocates large arrays zeroed by the system, lazily), while each
 * doubling copies everything decoded so far into new pages, and the first
 * write to a page is what costs (measured on this project's 2-core VM:
 * ~4 ms per MiB, 259 ms for a fresh 64 MiB array and 3.5 ms for the same
 * array again). Growing 1 → 64 MiB touched 127 MiB for a 63 MiB output.
 */
export function outputGuess(inputLength: number): number {
  return Math.max(1 << 16, inputLength * 16);
}

/** Thrown internally by {@link OutputBuffer} when `partial` output is full. */
export class OutputFull extends Error {
  constructor() {
    super("output full");
  }
}

/**
 * Growable output with a hard cap. Decoders write bytes with {@link push} or
 * reserve room with {@link ensure} and write into {@link buf} directly.
 */
export class OutputBuffer {
  /** The backing buffer; valid bytes are `buf[0, length)`. */
  buf: Uint8Array;
  /** Number of valid bytes. */
  length = 0;
  /** The hard cap. */
  readonly max: number;
  /** Stop (throw {@link OutputFull}) instead of `limit` at the cap. */
  readonly partial: boolean;
  private readonly layer: string;
  private readonly base: number;

  constructor(layer: string, options: DecompressOptions = {}, guess = 1 << 20) {
    this.layer = layer;
    this.base = options.base ?? 0;
    this.max = Math.max(0, Math.min(options.maxOutput ?? DEFAULT_MAX_OUTPUT, 2 ** 32));
    this.partial = options.partial ?? false;
    const want = options.expectedSize !== undefined && options.expectedSize >= 0 && !this.partial ? options.expectedSize : guess;
    this.buf = new Uint8Array(Math.min(this.max, Math.max(want, 64)));
  }

  /** Makes room for `n` more bytes, growing the buffer; throws `limit` past the cap. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    if (need > this.max) {
      if (this.partial) throw new OutputFull();
      throw new KimageError("limit", `decompressed output exceeds the limit of ${this.max} bytes`, { layer: this.layer, offset: this.base });
    }
    let size = Math.max(this.buf.length * 2, 1 << 16);
    while (size < need) size *= 2;
    const next = new Uint8Array(Math.min(size, this.max));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Appends one byte. */
  push(b: number): void {
    if (this.length === this.buf.length) this.ensure(1);
    this.buf[this.length++] = b;
  }

  /** Appends bytes. */
  write(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The valid bytes (a view). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
