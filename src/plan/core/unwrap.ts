/**
 * Plans take a kernel in any wrapped form (PE stub, zboot, compressed) and
 * unwrap it to the image the architecture boots.
 *
 * @module
 */

import { KimageError } from "../../core/errors.js";
import { inspect } from "../../inspect/registry.js";
import type { Layer } from "../../format/types.js";
import { PLAN_LAYER } from "./allocator.js";

/** The innermost layer of `format` and the bytes it parsed. */
export interface UnwrappedImage {
  /** The bytes of that layer (for a PE-stub Image: the whole file, signature included, as kexec_file_load receives it). */
  bytes: Uint8Array;
  layer: Layer;
  /** The format ids from the outermost to that layer. */
  chain: string[];
}

/**
 * Walks the layers of `kernel` (decoding compressed ones fully) and returns
 * the last layer whose format is `format`.
 *
 * @throws KimageError `plan-refused` when no layer is of that format.
 */
export async function innermostImage(kernel: Uint8Array, format: string): Promise<UnwrappedImage> {
  // Layers inside the wanted one are never needed (a bzImage's payload is not decoded to plan it).
  const { layers, inputs } = await inspect(kernel, { decode: "full", stopAfter: format });
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i] as Layer;
    if (layer.format === format) {
      return { bytes: inputs[i] as Uint8Array, layer, chain: layers.slice(0, i + 1).map((l) => l.format) };
    }
  }
  throw new KimageError("plan-refused", `the kernel has no ${format} layer (layers: ${layers.map((l) => l.format).join(" → ") || "none"})`, { layer: PLAN_LAYER, offset: -1 });
}
