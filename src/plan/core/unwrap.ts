/**
 * Plans take a kernel in any wrapped form (PE stub, zboot, compressed) and
 * unwrap it to the image the architecture boots.
 *
 * Each arch module names the layer it boots and how that layer's header is
 * read in one {@link KernelLayer} constant (`ARM64_KERNEL`, `RISCV_KERNEL`,
 * `X86_KERNEL`, `ELF_KERNEL`); {@link unwrapKernel} is the one place a plan
 * reads that header. When a layer carries its parsed header, this is where
 * the plan takes it instead of parsing again.
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

/** The layer an arch plan boots, and how the plan reads its header. */
export interface KernelLayer<H> {
  /** The format id of the layer (`"arm64-image"`, `"bzimage"`, …). */
  format: string;
  /** Reads the header the plan needs from the layer's bytes. @throws the format's parse errors. */
  header: (bytes: Uint8Array) => H;
}

/** An unwrapped kernel with the header its plan reads. */
export interface UnwrappedKernel<H> extends UnwrappedImage {
  /** What `KernelLayer.header` read from `bytes`. */
  header: H;
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

/**
 * {@link innermostImage} for `kind.format`, then its header read with
 * `kind.header`.
 *
 * @throws KimageError `plan-refused` when no layer is of that format, or the
 *   header's parse errors.
 */
export async function unwrapKernel<H>(kernel: Uint8Array, kind: KernelLayer<H>): Promise<UnwrappedKernel<H>> {
  const image = await innermostImage(kernel, kind.format);
  // The header parse of every arch plan (typed layers: take the layer's parsed header here instead).
  return { ...image, header: kind.header(image.bytes) };
}
