/**
 * A catch-all innermost layer for a decoded kernel that has no header of
 * its own (the raw arm Image inside a zImage, the s390 kernel inside its
 * decompressor): it reports the size and the `linux_banner`.
 *
 * Its probe accepts any non-empty bytes, so it belongs at the very end of a
 * probe table, and only where an unrecognised outermost input should not
 * raise `unknown-format` (e.g. a table used for decoded payloads only).
 *
 * @module
 */

import type { FormatModule, Layer, ParseContext } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";
import { findBanner, type Banner } from "../../format/banner.js";

/** Format id of the raw layer. */
export const RAW_LAYER = "raw";

/** Most bytes searched for the banner (default 128 MiB). */
export const RAW_BANNER_SCAN = 128 * 1024 * 1024;

/** The typed header of a raw layer. */
export interface RawImage {
  /** Size of the bytes. */
  size: number;
  /** The `linux_banner` found in the first {@link RAW_BANNER_SCAN} bytes, or null. */
  banner: Banner | null;
}

/**
 * The raw format: matches any non-empty bytes; the layer carries `size`,
 * `banner` and `release` (null when no banner is found in the first
 * {@link RAW_BANNER_SCAN} bytes), and the {@link RawImage} as its typed
 * header. No payload.
 */
export const rawFormat: FormatModule<RawImage> = {
  id: RAW_LAYER,
  description: "raw kernel image without a header of its own (size and Linux version banner)",
  probe(bytes: Uint8Array): boolean {
    return bytes.length > 0;
  },
  parse(bytes: Uint8Array, ctx: ParseContext): Layer<RawImage> {
    const banner = findBanner(bytes, RAW_BANNER_SCAN);
    const layer: Layer = {
      format: RAW_LAYER,
      offset: ctx.offset,
      size: bytes.length,
      summary: banner ? `raw image, ${bytes.length} bytes, ${banner.text}` : `raw image, ${bytes.length} bytes, no Linux version banner`,
      fields: { size: bytes.length, banner: banner?.text ?? null, release: banner?.release ?? null, bannerOffset: banner?.offset ?? null },
      findings: [],
    };
    return withHeader(layer, { size: bytes.length, banner });
  },
};
