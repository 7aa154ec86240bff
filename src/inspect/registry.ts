/**
 * The probe table and the layer walk. The first module whose `probe`
 * accepts the bytes parses them (first match wins); if the layer hands a
 * payload on, the walk continues on it.
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
import { riscvImageFormat } from "../formats/riscv/image.js";
import { s390ImageFormat } from "../formats/s390/format.js";
import { zbootFormat } from "../formats/zboot/format.js";
import { zImageFormat } from "../formats/zimage/format.js";
import { compressedFormats } from "../formats/compressed/format.js";
import type { FormatModule, Layer, ParseContext } from "../format/types.js";

/**
 * The probe table, most specific first; the first module whose probe accepts
 * the bytes parses them. A PE comes first (the EFI stub wraps the others on
 * the same bytes); then the formats identified by a header magic at a fixed
 * offset; ELF; and last the whole-file compressed formats (lzma "alone" has
 * the weakest header, so it is the very last).
 */
export const FORMATS: readonly FormatModule[] = [
  peFormat,
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
  decode?: "full" | "peek";
  /** Stop after the first layer of this format (the layers inside it are not parsed or decoded). */
  stopAfter?: string;
}

/** The result of {@link inspect}. */
export interface InspectResult {
  /** Layers from the outermost in. */
  layers: Layer[];
  /** The bytes each layer parsed (`inputs[i]` for `layers[i]`; views or decoded buffers, never copies of views). */
  inputs: Uint8Array[];
}

/** The first module of `formats` that accepts `bytes`, skipping ids in `skip`. Never throws. */
export function probeFormat(
  bytes: Uint8Array,
  formats: readonly FormatModule[] = FORMATS,
  skip: ReadonlySet<string> = new Set(),
): FormatModule | null {
  for (const f of formats) {
    if (skip.has(f.id)) continue;
    try {
      if (f.probe(bytes)) return f;
    } catch {
      // A probe must never throw; treat a faulty one as "no".
    }
  }
  return null;
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
  let hints: Pick<ParseContext, "expectedSize" | "codec" | "fileSize"> = {};
  let seen = new Set<string>();
  for (let depth = 0; depth < maxDepth; depth++) {
    let f = probeFormat(cur, formats, seen);
    if (!f) {
      // Decoded bytes that no format recognises are the raw image the container held
      // (e.g. the arm Image inside a zImage's xz, the s390 kernel): report them as `raw`.
      if (offset !== -1 || layers.length === 0 || cur.length === 0) break;
      f = rawFormat;
    }
    const layer = await f.parse(cur, { offset, decode: options.decode ?? "full", ...hints });
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
    };
  }
  if (layers.length === 0) {
    throw new KimageError("unknown-format", "no known format recognises this input", { layer: "inspect", offset: 0 });
  }
  return { layers, inputs };
}
