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
  /**
   * Ranges `[start, end)` of `bytes` that were not kept (a "scan" decode keeps
   * the start and the tail of a large payload; the holes read as zeros).
   */
  holes?: readonly (readonly [number, number])[];
}

/**
 * One layer of an image, from the outermost in.
 *
 * `H` is the type of the format's typed parse result ({@link Layer.header}):
 * `Layer<Arm64Header>` for an arm64 Image layer, `Layer<ElfFile>` for an ELF
 * layer, and so on; `Layer` alone (`H = unknown`) is any layer.
 */
export interface Layer<H = unknown> {
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
  /**
   * The format's typed parse result, as its parser returned it: the header
   * structure (`Arm64Header`, `RiscvHeader`, `LoongarchHeader`,
   * `ZbootHeader`), the parsed container (`BzImage`, `ZImage`, `S390Image`),
   * the parsed file (`PeFile`, `ElfFile`), or what a codec layer decoded
   * (`DecodedStream`). Plans and verifiers read it instead of parsing the
   * bytes again; get it typed with {@link layerHeader}.
   *
   * It is a non-enumerable property (set by {@link withHeader}), so
   * `JSON.stringify`, object spread and deep-equality checks see only the
   * JSON view (`fields`) and the other properties above. Layers built by
   * hand may leave it out.
   */
  readonly header?: H;
}

/**
 * Progress of a long step (decoding a compressed payload): `phase` names it
 * (e.g. "decode xz"), `done` is how far it got (compressed bytes consumed),
 * `total` the amount when known (the compressed size). Reported at most
 * about every MiB, and once at the end of the step.
 */
export interface Progress {
  phase: string;
  done: number;
  total?: number;
}

/** Receives {@link Progress} reports; must not throw. */
export type ProgressCallback = (p: Progress) => void;

/** Context passed to {@link FormatModule.parse}. */
export interface ParseContext {
  /** Absolute offset of `bytes[0]` in the outermost input (-1 for decoded data). */
  offset: number;
  /**
   * `"full"`: decode compressed payloads completely (extract, plans).
   * `"peek"`: decode only as much as identifying the next layers needs (a
   * codec layer may stop early with `partial`); sizes then come from the
   * container's own fields. `"scan"`: decode every payload to its end
   * (sizes and checks verified, the banner and IKCONFIG found on the way)
   * through the streaming decoder when the codec has one, keeping only what
   * inspection reads (the ranges the decoded format's `inspectionRanges`
   * names and the tail): the payload has the full size with
   * {@link LayerPayload.holes}; for `inspect --full` without holding the
   * whole kernel. Default `"full"`.
   */
  decode?: "full" | "peek" | "scan";
  /** From the previous layer's payload: the size the container states for the decoded data. */
  expectedSize?: number;
  /** From the previous layer's payload: the codec the container names. */
  codec?: import("../codecs/types.js").Codec;
  /** When `bytes` is only a prefix of the data (a peek): the data's full size. */
  fileSize?: number;
  /** From the previous layer's payload: ranges of `bytes` not kept (see {@link LayerPayload.holes}). */
  holes?: readonly (readonly [number, number])[];
  /**
   * The probe table of the walk (`inspect` passes the one it uses). A layer
   * that decodes a payload asks the hooks of these formats about the decoded
   * bytes ({@link FormatModule.inspectionPrefix},
   * {@link FormatModule.trimPadding}); it never imports the formats itself.
   */
  formats?: readonly FormatModule[];
  /** Progress of decoding (see {@link Progress}). */
  onProgress?: ProgressCallback;
  /**
   * True when an outer layer already names the kernel release (a bzImage's
   * `kernel_version`): a codec layer in "peek" mode then need not decode on
   * to find the `linux_banner`.
   */
  versionKnown?: boolean;
}

/** Where {@link FormatModule.trimPadding} cuts decoded data, and why. */
export interface PaddingTrim {
  /** Length kept: the end of the format's own content. */
  at: number;
  /** Bytes dropped after it (all padding). */
  dropped: number;
  /** Why, in one phrase (the decoding layer reports it in its `cut` field). */
  reason: string;
  /** The observation the decoding layer adds to its findings. */
  finding: Finding;
}

/**
 * One entry of the probe table, in the manner of the kernel's
 * `struct kexec_file_ops`: a cheap `probe` that never throws, and a `parse`
 * that throws {@link KimageError} on bad input; plus optional hooks through
 * which a layer that decodes a payload (a codec layer), `kernelIdentity` or
 * a plan learns what this format needs of decoded bytes, without importing
 * the format. `H` is the type of the layers' {@link Layer.header}.
 */
export interface FormatModule<H = unknown> {
  /** The format id its layers carry. */
  id: string;
  /** One-line description. */
  description: string;
  /** Cheap check on the first bytes; never throws. */
  probe(bytes: Uint8Array): boolean;
  /** Full parse into a layer (async: a layer may decompress its payload). */
  parse(bytes: Uint8Array, ctx: ParseContext): Layer<H> | Promise<Layer<H>>;
  /**
   * How many leading bytes of data of this format inspection needs, given a
   * prefix of it that `probe` accepts; null when the prefix says nothing yet
   * (ask again with more) or the format has no such bound. A decoder in
   * "peek" mode decodes a small prefix, asks, and decodes up to the answer
   * instead of the whole payload (ELF: the headers and every PT_NOTE).
   * Never throws.
   */
  inspectionPrefix?(prefix: Uint8Array): number | null;
  /**
   * The byte ranges `[start, end)` of data of this format that inspection
   * reads, as a prefix that `probe` accepts shows them; null when the prefix
   * is too short to tell. A decoder in "scan" mode decodes the whole stream
   * and keeps only these ranges and the stream's tail (ELF: the headers,
   * every PT_NOTE and the section header table; the section names lie in the
   * tail). Never throws.
   */
  inspectionRanges?(prefix: Uint8Array): readonly (readonly [number, number])[] | null;
  /**
   * Where this format's own content ends in decoded data that `probe`
   * accepts, when only padding follows it and the padding must go (a signed
   * PE: Authenticode hashes every byte up to the end of the certificate
   * table, so zeros a build appended after it are not part of the image).
   * Returns null to keep the data whole; may push findings (e.g. non-zero
   * data after the content). Never throws.
   */
  trimPadding?(bytes: Uint8Array, findings: Finding[]): PaddingTrim | null;
}
