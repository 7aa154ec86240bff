/**
 * The codec layer's shared types: every decoder takes bytes and bounded
 * options and returns the output with how much input it consumed.
 *
 * @module
 */

/** Compression formats the kernel build emits, by stable id (also their layer ids). */
export type Codec = "gzip" | "zstd" | "lz4" | "xz" | "lzma" | "bzip2" | "lzo";

/** Every {@link Codec}. */
export const CODECS: readonly Codec[] = ["gzip", "zstd", "lz4", "xz", "lzma", "bzip2", "lzo"];

/** Default cap on decompressed output: 256 MiB (the largest kernels are well below). */
export const DEFAULT_MAX_OUTPUT = 256 * 1024 * 1024;

/** Options of every decoder. */
export interface DecompressOptions {
  /**
   * Hard cap on output bytes (default {@link DEFAULT_MAX_OUTPUT}). Exceeding it
   * throws `limit` (or stops, with `partial`). Never more memory than this
   * (plus decoder state) is allocated for output.
   */
  maxOutput?: number;
  /**
   * The size the container states, if any (e.g. a trailer): used to size the
   * output buffer up front (capped by maxOutput) and checked at the end
   * (`codec-size-mismatch`). Ignored with `partial`.
   */
  expectedSize?: number;
  /**
   * Stop without error once `maxOutput` bytes have been produced, returning
   * what was decoded so far (`complete: false`). For inspecting the start of a
   * payload without decoding all of it.
   */
  partial?: boolean;
  /** Absolute offset of the input in the outermost file, for errors (default 0). */
  base?: number;
}

/** The result of a decoder. */
export interface DecompressResult {
  codec: Codec;
  /** The decompressed bytes (exactly the output length; may be a view of a larger buffer). */
  bytes: Uint8Array;
  /** Input bytes consumed, through the end of the stream (and its checksums/trailers). */
  consumed: number;
  /** False when `partial` stopped the decoder before the end of the stream. */
  complete: boolean;
  /** Which integrity checks were verified, e.g. `["crc32"]`, `["xxh64"]`, `[]`. */
  checked: string[];
}

/** A synchronous decoder. */
export type Decoder = (input: Uint8Array, options?: DecompressOptions) => DecompressResult;
