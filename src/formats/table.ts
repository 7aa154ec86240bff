/**
 * The probe table and the layer walk. The first module whose `probe`
 * accepts the bytes parses them (first match wins); if the layer hands a
 * payload on, the walk continues on it.
 *
 * @module
 */

import { KimageError } from "../errors.js";
import { peFormat } from "../pecoff/format.js";
import type { FormatModule, Layer } from "./types.js";

/** The probe table, most specific first. Later issues add formats here. */
export const FORMATS: readonly FormatModule[] = [peFormat];

/** Options for {@link inspect}. */
export interface InspectOptions {
  /** The probe table to use; default {@link FORMATS}. */
  formats?: readonly FormatModule[];
  /** Maximum number of layers (default 16). */
  maxDepth?: number;
}

/** The result of {@link inspect}. */
export interface InspectResult {
  /** Layers from the outermost in. */
  layers: Layer[];
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
  let cur = bytes;
  let offset = 0;
  let seen = new Set<string>();
  for (let depth = 0; depth < maxDepth; depth++) {
    const f = probeFormat(cur, formats, seen);
    if (!f) break;
    const layer = await f.parse(cur, { offset });
    layers.push(layer);
    if (!layer.payload) break;
    const same = layer.payload.bytes === cur || (layer.payload.bytes.buffer === cur.buffer && layer.payload.bytes.byteOffset === cur.byteOffset && layer.payload.bytes.length === cur.length);
    seen = same ? new Set([...seen, f.id]) : new Set();
    cur = layer.payload.bytes;
    offset = layer.payload.offset;
  }
  if (layers.length === 0) {
    throw new KimageError("unknown-format", "no known format recognises this input", { layer: "inspect", offset: 0 });
  }
  return { layers };
}
