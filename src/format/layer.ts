/**
 * Typed layers: a {@link Layer} keeps the typed result its format parsed
 * (its `header`) beside the JSON view (`fields`) used for output.
 *
 * A format's parser attaches the result with {@link withHeader}; a reader
 * gets it back, typed, with {@link layerHeader}:
 *
 * ```ts
 * const { layers } = await inspect(bytes);
 * for (const layer of layers) {
 *   const h = layerHeader(layer, arm64ImageFormat); // Arm64Header | undefined
 *   if (h) console.log(h.text_offset, h.image_size);
 * }
 * ```
 *
 * The header is a non-enumerable property: `JSON.stringify(layer)`, object
 * spread and the CLI's JSON never contain it.
 *
 * @module
 */

import type { FormatModule, Layer } from "./types.js";

/**
 * Attaches `header` to `layer` as its non-enumerable {@link Layer.header}
 * and returns the same object, typed. Replaces any header it had.
 */
export function withHeader<H>(layer: Layer, header: H): Layer<H> {
  Object.defineProperty(layer, "header", { value: header, enumerable: false, writable: false, configurable: true });
  return layer as Layer<H>;
}

/**
 * The typed header of `layer` when `format` made it (the layer's format id
 * is `format.id`), else undefined; undefined too for a layer of that format
 * built without a header (by hand, or by a module that does not attach one).
 */
export function layerHeader<H>(layer: Layer | undefined, format: FormatModule<H>): H | undefined {
  if (!layer || layer.format !== format.id) return undefined;
  return (layer as Layer<H>).header;
}
