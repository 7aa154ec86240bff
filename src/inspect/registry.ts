/**
 * The probe table and the layer walk. The first module whose `probe`
 * accepts the bytes parses them (first match wins); if the layer hands a
 * payload on, the walk continues on it. Every `parse` is given the table
 * (`ParseContext.formats`), so a codec layer can ask the hooks of the
 * formats it decodes into without importing them.
 *
 * This is the floor above the formats: the only place that names them all.
 * A new format is one folder under `src/formats/` plus one line in
 * {@link FORMATS}.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { arm64ImageFormat } from "../formats/arm64/image.js";
import { bzImageFormat } from "../formats/bzimage/format.js";
import { elfFormat } from "../formats/elf/format.js";
import { rawFormat } from "../formats/raw/format.js";
import { loongarchImageFormat } from "../formats/loongarch/image.js";
import { peFormat } from "../formats/pe/format.js";
import { ukiFormat } from "../formats/pe/uki/format.js";
import { riscvImageFormat } from "../formats/riscv/image.js";
import { s390ImageFormat } from "../formats/s390/format.js";
import { zbootFormat } from "../formats/zboot/format.js";
import { zImageFormat } from "../formats/zimage/format.js";
import { createCompressedFormats, type DecodedStream } from "../formats/compressed/format.js";
import { probeTable } from "../format/table.js";
import { layerHeader } from "../format/layer.js";
import type { FormatModule, Layer, ParseContext, ProgressCallback } from "../format/types.js";

/**
 * The library's codec layers, in probe order (gzip, zstd, xz, lz4, bzip2,
 * lzo, "lzma alone" last). Inside `inspect` they ask the hooks of the table
 * being walked; called directly, without `ParseContext.formats`, the hooks
 * of {@link FORMATS}.
 */
export const compressedFormats: readonly FormatModule<DecodedStream>[] = createCompressedFormats({ formats: () => FORMATS });
const codec = (id: string): FormatModule<DecodedStream> => compressedFormats.find((f) => f.id === id) as FormatModule<DecodedStream>;
/** gzip layer (pure TypeScript inflate), of {@link compressedFormats}. */
export const gzipFormat: FormatModule<DecodedStream> = codec("gzip");
/** Zstandard layer, of {@link compressedFormats}. */
export const zstdFormat: FormatModule<DecodedStream> = codec("zstd");
/** xz layer (with the BCJ filters kernels use), of {@link compressedFormats}. */
export const xzFormat: FormatModule<DecodedStream> = codec("xz");
/** LZ4 layer (frame and legacy), of {@link compressedFormats}. */
export const lz4Format: FormatModule<DecodedStream> = codec("lz4");
/** bzip2 layer, of {@link compressedFormats}. */
export const bzip2Format: FormatModule<DecodedStream> = codec("bzip2");
/** lzop layer, of {@link compressedFormats}. */
export const lzoFormat: FormatModule<DecodedStream> = codec("lzo");
/** "lzma alone" layer, of {@link compressedFormats}. */
export const lzmaFormat: FormatModule<DecodedStream> = codec("lzma");

/**
 * The probe table, most specific first; the first module whose probe accepts
 * the bytes parses them. A PE comes first (the EFI stub wraps the others on
 * the same bytes), then the `uki` layer of a UKI's same PE; then the formats identified by a header magic at a fixed
 * offset; ELF; and last the whole-file compressed formats (lzma "alone" has
 * the weakest header, so it is the very last).
 */
export const FORMATS: readonly FormatModule[] = [
  peFormat,
  ukiFormat,
  zbootFormat,
  bzImageFormat,
  arm64ImageFormat,
  riscvImageFormat,
  loongarchImageFormat,
  zImageFormat,
  s390ImageFormat,
  elfFormat,
  ...compressedFormats,
];

/** Options for {@link inspect}. */
export interface InspectOptions {
  /** The probe table to use; default {@link FORMATS}. */
  formats?: readonly FormatModule[];
  /** Maximum number of layers (default 16). */
  maxDepth?: number;
  /** How far compressed payloads are decoded; see {@link ParseContext.decode} (default `"full"`). */
  decode?: "full" | "peek" | "scan";
  /** Stop after the first layer of this format (the layers inside it are not parsed or decoded). */
  stopAfter?: string;
  /**
   * Progress of the long steps (decoding a compressed payload):
   * `{ phase: "decode xz", done, total }` with `done` the compressed bytes
   * consumed and `total` the compressed size, at most about every MiB and
   * once when the step ends. See {@link Progress}.
   */
  onProgress?: ProgressCallback;
}

/** The result of {@link inspect}. */
export interface InspectResult {
  /** Layers from the outermost in. */
  layers: Layer[];
  /** The bytes each layer parsed (`inputs[i]` for `layers[i]`; views or decoded buffers, never copies of views). */
  inputs: Uint8Array[];
}

/** The first module of `formats` (default {@link FORMATS}) that accepts `bytes`, skipping ids in `skip`. Never throws. */
export function probeFormat(bytes: Uint8Array, formats: readonly FormatModule[] = FORMATS, skip: ReadonlySet<string> = new Set()): FormatModule | null {
  return probeTable(bytes, formats, skip);
}

/**
 * Walks the layers of an image from the outermost in.
 *
 * A layer whose payload is the same bytes (an EFI stub in front of the
 * format it boots) is followed by the next matching format other than the
 * ones already found on those bytes.
 *
 * @throws KimageError `unknown-format` when no format accepts the input, or
 *   any parse error of a layer.
 */
export async function inspect(bytes: Uint8Array, options: InspectOptions = {}): Promise<InspectResult> {
  const formats = options.formats ?? FORMATS;
  const maxDepth = options.maxDepth ?? 16;
  const layers: Layer[] = [];
  const inputs: Uint8Array[] = [];
  let cur = bytes;
  let offset = 0;
  let hints: Pick<ParseContext, "expectedSize" | "codec" | "fileSize" | "holes"> = {};
  let seen = new Set<string>();
  let versionKnown = false;
  for (let depth = 0; depth < maxDepth; depth++) {
    let f = probeFormat(cur, formats, seen);
    if (!f) {
      // Decoded bytes that no format recognises are the raw image the container held
      // (e.g. the arm Image inside a zImage's xz, the s390 kernel): report them as `raw`.
      if (offset !== -1 || layers.length === 0 || cur.length === 0) break;
      f = rawFormat;
    }
    const ctx: ParseContext = { offset, decode: options.decode ?? "full", formats, ...hints, ...(versionKnown ? { versionKnown } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
    const layer = await f.parse(cur, ctx);
    if (typeof layer.fields.kernelVersion === "string" && layer.fields.kernelVersion.length > 0) versionKnown = true;
    layers.push(layer);
    inputs.push(cur);
    if (!layer.payload || layer.format === options.stopAfter) break;
    const same = layer.payload.bytes === cur || (layer.payload.bytes.buffer === cur.buffer && layer.payload.bytes.byteOffset === cur.byteOffset && layer.payload.bytes.length === cur.length);
    seen = same ? new Set([...seen, f.id]) : new Set();
    const p = layer.payload;
    cur = p.bytes;
    offset = p.offset;
    hints = {
      ...(p.expectedSize !== undefined ? { expectedSize: p.expectedSize } : {}),
      ...(p.codec !== undefined ? { codec: p.codec } : {}),
      ...(p.fileSize !== undefined ? { fileSize: p.fileSize } : {}),
      ...(p.holes !== undefined ? { holes: p.holes } : {}),
    };
  }
  if (layers.length === 0) {
    throw new KimageError("unknown-format", "no known format recognises this input", { layer: "inspect", offset: 0 });
  }
  return { layers, inputs };
}

/** A layer found by {@link findLayer}, with its typed header and the bytes it parsed. */
export interface FoundLayer<H> {
  /** Index in {@link InspectResult.layers}. */
  index: number;
  /** The layer. */
  layer: Layer<H>;
  /** Its typed header (what the format's parser returned), undefined only for a layer built without one. */
  header: H | undefined;
  /** The bytes the layer parsed (`InspectResult.inputs[index]`). */
  input: Uint8Array;
}

/**
 * The innermost layer of `result` made by `format`, typed: a plan gets the
 * header `inspect` already parsed instead of parsing the bytes again.
 *
 * ```ts
 * const r = await inspect(kernel, { decode: "full", stopAfter: "arm64-image" });
 * const image = findLayer(r, arm64ImageFormat); // FoundLayer<Arm64Header> | null
 * image?.header?.text_offset;                   // bigint
 * ```
 */
export function findLayer<H>(result: InspectResult, format: FormatModule<H>): FoundLayer<H> | null {
  for (let i = result.layers.length - 1; i >= 0; i--) {
    const layer = result.layers[i] as Layer;
    if (layer.format !== format.id) continue;
    return { index: i, layer: layer as Layer<H>, header: layerHeader(layer, format), input: result.inputs[i] as Uint8Array };
  }
  return null;
}
