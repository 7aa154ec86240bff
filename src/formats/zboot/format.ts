/**
 * The EFI zboot entry of the probe table. A zboot image is a PE (the outer
 * `pe` layer parses it first and hands the same bytes on); this layer
 * reports the zboot header by its spec names and hands on the compressed
 * payload, `[payload_offset, payload_offset + payload_size)`, with the codec
 * the header names and the size the trailer states. The codec layer
 * (`src/formats/compressed/format.ts`) decompresses it into the inner image.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { hasCodecHeader } from "../../codecs/index.js";
import type { Finding } from "../../core/errors.js";
import type { FormatModule, Layer } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";
import { ZBOOT_LAYER, parseZbootHeader, probeZboot, type ZbootHeader } from "./header.js";

/** Builds the JSON-ready layer of a parsed zboot header; its typed header is `h`. */
export function zbootLayer(bytes: Uint8Array, h: ZbootHeader, offset: number): Layer<ZbootHeader> {
  const findings: Finding[] = [...h.findings];
  const abs = (o: number) => (offset >= 0 ? offset + o : -1);
  const payload = bytes.subarray(h.payload_offset, h.payload_offset + h.payload_size);
  if (!hasCodecHeader(payload, h.codec)) {
    findings.push({
      code: "zboot-payload-header-mismatch",
      severity: "warning",
      offset: abs(h.payload_offset),
      message: `compress_type ${JSON.stringify(h.compress_type)} names ${h.codec}, but the payload does not start with a valid ${h.codec} header`,
    });
  }
  const layer: Layer = {
    format: ZBOOT_LAYER,
    offset,
    size: bytes.length,
    summary: `EFI zboot, ${h.compress_type} payload of ${h.payload_size} bytes at ${hex(h.payload_offset)}, ${h.uncompressedSize} bytes decompressed (size trailer)`,
    fields: {
      mz_magic: hex(h.mz_magic),
      image_type: h.image_type,
      payload_offset: h.payload_offset,
      payload_size: h.payload_size,
      reserved: [hex(h.reserved[0]), hex(h.reserved[1])],
      compress_type: h.compress_type,
      linux_pe_magic: hex(h.linux_pe_magic),
      pe_header_offset: h.pe_header_offset,
      codec: h.codec,
      size_len: h.size_len,
      sizeTrailer: { offset: abs(h.trailerOffset), value: h.uncompressedSize, insidePayload: h.size_len === 0 },
    },
    findings,
    payload: { bytes: payload, offset: abs(h.payload_offset), codec: h.codec, expectedSize: h.uncompressedSize },
  };
  return withHeader(layer, h);
}

/**
 * The EFI zboot format module (id "zboot"): probe "MZ" + "zimg" at 4; parse
 * the header; the payload is the compressed stream (see the module doc).
 * Its layers carry the {@link ZbootHeader}.
 */
export const zbootFormat: FormatModule<ZbootHeader> = {
  id: ZBOOT_LAYER,
  description: "EFI zboot image (self-decompressing EFI application, drivers/firmware/efi/libstub/zboot-header.S)",
  probe: probeZboot,
  parse(bytes, ctx) {
    return zbootLayer(bytes, parseZbootHeader(bytes, Math.max(ctx.offset, 0)), ctx.offset);
  },
};
