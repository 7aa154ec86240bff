/**
 * What the push-based streaming decoders that buffer their input (lz4, lzo,
 * zstd) share: the input position and the stream's end, the checks verified,
 * and the sticky failure: once `write` or `end` threw, every later call throws
 * the same error, and after the end of the stream both do nothing.
 *
 * @module
 */

import type { Codec } from "./types.js";
import type { StreamDecoder } from "./stream.js";

/** A {@link StreamDecoder} whose codec implements `feed` (a chunk of input) and `finishInput` (no more input). */
export abstract class FeedingStreamDecoder implements StreamDecoder {
  abstract readonly codec: Codec;
  /** Compressed bytes consumed so far. */
  protected pos = 0;
  /** Where the stream ended (its checksums included), once `done`. */
  protected endPos = 0;
  /** Which integrity checks were verified. */
  protected readonly checks = new Set<string>();
  /** The error `write` or `end` threw, thrown again by every later call. */
  private failure: unknown = null;
  /** True once the end of the stream was decoded and verified. */
  protected done = false;

  get consumed(): number {
    return this.done ? this.endPos : this.pos;
  }
  abstract get produced(): number;
  get complete(): boolean {
    return this.done;
  }
  get checked(): readonly string[] {
    return [...this.checks];
  }

  write(chunk: Uint8Array): void {
    this.guard(() => this.feed(chunk));
  }

  end(): void {
    this.guard(() => this.finishInput());
  }

  /** Consumes the next chunk of input. */
  protected abstract feed(chunk: Uint8Array): void;
  /** No more input: decodes what is left, or throws `truncated`. */
  protected abstract finishInput(): void;

  private guard(step: () => void): void {
    if (this.failure) throw this.failure;
    if (this.done) return;
    try {
      step();
    } catch (e) {
      this.failure = e;
      throw e;
    }
  }
}
