/**
 * The unified layer model: every format module turns bytes into a
 * {@link Layer}, and may hand an inner payload to the next layer.
 *
 * @module
 */

import type { Finding } from "../core/errors.js";

/** A JSON-ready value: 64-bit numbers are `0x…` strings, byte strings are hex. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The bytes a layer hands to the next one. */
export interface LayerPayload {
  /** The payload (a view or, for decompressed layers, a new buffer). */
  bytes: Uint8Array;
  /** Absolute offset of the payload in the outermost input, or -1 when it is decoded data. */
  offset: number;
  /**
   * For a compressed payload: the decompressed size the container states
   * (e.g. a le32 size trailer), which the codec layer checks and uses to size
   * its output.
   */
  expectedSize?: number;
  /** For a compressed payload: the codec the container names, if it names one. */
  codec?: import("../codecs/types.js").Codec;
  /** When `bytes` is only a prefix of the payload (a peek decode): the payload's full size. */
  fileSize?: number;
}

/** One layer of an image, from the outermost in. */
export interface Layer {
  /** Stable lowercase format id, e.g. `"pe"`. */
  format: string;
  /** Absolute offset of the layer in the outermost input, or -1 for decoded data. */
  offset: number;
  /** Size in bytes of the layer's input. */
  size: number;
  /** One readable line. */
  summary: string;
  /** The format's fields, by spec name, JSON-ready. */
  fields: { [key: string]: JsonValue };
  /** Non-fatal observations. */
  findings: Finding[];
  /** The payload for the next layer, if this layer wraps one. */
  payload?: LayerPayload;
}

/** Context passed to {@link FormatModule.parse}. */
export interface ParseContext {
  /** Absolute offset of `bytes[0]` in the outermost input (-1 for decoded data). */
  offset: number;
  /**
   * `"full"`: decode compressed payloads completely (extract, plans).
   * `"peek"`: decode only as much as identifying the next layers needs (a
   * codec layer may stop early with `partial`); sizes then come from the
   * container's own fields. Default `"full"`.
   */
  decode?: "full" | "peek";
  /** From the previous layer's payload: the size the container states for the decoded data. */
  expectedSize?: number;
  /** From the previous layer's payload: the codec the container names. */
  codec?: import("../codecs/types.js").Codec;
  /** When `bytes` is only a prefix of the data (a peek): the data's full size. */
  fileSize?: number;
}

/**
 * One entry of the probe table, in the manner of the kernel's
 * `struct kexec_file_ops`: a cheap `probe` that never throws, and a `parse`
 * that throws {@link KimageError} on bad input.
 */
export interface FormatModule {
  /** The format id its layers carry. */
  id: string;
  /** One-line description. */
  description: string;
  /** Cheap check on the first bytes; never throws. */
  probe(bytes: Uint8Array): boolean;
  /** Full parse into a layer (async: a layer may decompress its payload). */
  parse(bytes: Uint8Array, ctx: ParseContext): Layer | Promise<Layer>;
}
