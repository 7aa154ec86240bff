/**
 * The arm32 zImage: the decompressor's header (arch/arm/boot/compressed/head.S,
 * `struct arm_zimage_header` in arch/arm/include/asm/image.h), its extension
 * table (vmlinux.lds.S `.table`), and the compressed kernel ("piggy") it
 * carries.
 *
 * How the payload is located, from the image's own structures:
 * 1. head.S: `.word _magic_table @ additional data table` at 0x38 (valid when
 *    `.word 0x45454545 @ another magic number to indicate` is at 0x34) gives
 *    the table's offset from `_start`.
 * 2. vmlinux.lds.S: the table holds tags `LONG(ZIMAGE_MAGIC(size in words))`,
 *    `LONG(ZIMAGE_MAGIC(tag))`, values…, ended by `LONG(0)`; the
 *    ZIMAGE_TAG_KRNL_SIZE tag (0x5a534c4b) carries `__piggy_size_addr - _start`
 *    where `.piggydata : { *(.piggydata) __piggy_size_addr = . - 4; }`: the le32
 *    decompressed size the build appended to the compressed data (piggy.S
 *    `.incbin "arch/arm/boot/compressed/piggy_data"`, made with `size_append`).
 *    So the compressed stream **ends** exactly at `size_ptr`.
 * 3. The stream's **start** is not recorded anywhere. It is derived from the
 *    stream itself, backwards from that end: for xz (the only codec Debian
 *    uses here) from its footer and index (every CRC32 checked); for zstd and
 *    lz4 by walking frames/chunks forward to exactly that end; for codecs
 *    that carry no such structure (gzip, lzma, lzo, bzip2) the first valid
 *    header after the table is taken and flagged `first-magic`. Magics inside
 *    the decompressor's code (it carries xz and zstd magics) never satisfy
 *    "ends exactly at size_ptr".
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import type { Codec } from "../../codecs/types.js";
import type { Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer, LayerPayload, ParseContext } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";
import { locateStreamEndingAt, type LocatedStream } from "../../codecs/streams.js";

/** Format id of the zImage layer. */
export const ZIMAGE_LAYER = "zimage";
/** `#define ARM_ZIMAGE_MAGIC1 ZIMAGE_MAGIC(0x016f2818)` at 0x24 (`__le32 magic` after `code[9]`). */
export const ARM_ZIMAGE_MAGIC1 = 0x016f2818;
/** `#define ARM_ZIMAGE_MAGIC2 (0x45454545)` at 0x34: the extension table offset follows. */
export const ARM_ZIMAGE_MAGIC2 = 0x45454545;
/** `#define ARM_ZIMAGE_MAGIC3 ZIMAGE_MAGIC(0x5a534c4b)` = ZIMAGE_TAG_KRNL_SIZE. */
export const ZIMAGE_TAG_KRNL_SIZE = 0x5a534c4b;
/** `#define ARM_ZIMAGE_MAGIC4 ZIMAGE_MAGIC(0x5a534344)` = ZIMAGE_TAG_DECOMP_SIZE (later kernels). */
export const ZIMAGE_TAG_DECOMP_SIZE = 0x5a534344;
/** head.S: `.word 0x04030201 @ endianness flag` at 0x30. */
export const ZIMAGE_ENDIAN_FLAG = 0x04030201;
/** Most tags read from the extension table (the loop is bounded). */
const MAX_TAGS = 64;

/** One extension-table tag (`struct tag_header { size; tag; }` + values). */
export interface ZImageTag {
  /** Absolute offset of the tag. */
  offset: number;
  /** Size in 32-bit words, the header included. */
  size: number;
  tag: number;
  /** The values after the header. */
  values: number[];
}

/** A parsed zImage. */
export interface ZImage {
  base: number;
  /** "LE", or "BE8" when the header words are byte-swapped (CONFIG_CPU_ENDIAN_BE8). */
  byteOrder: "LE" | "BE8";
  /** `struct arm_zimage_header` fields. */
  magic: number;
  start: number;
  end: number;
  endian: number;
  magic2: number;
  extension_tag_offset: number | null;
  tags: ZImageTag[];
  /** ZIMAGE_TAG_KRNL_SIZE values, when present. */
  krnlSize: { size_ptr: number; bss_size: number; text_offset: number | null; malloc_size: number | null } | null;
  /** Bytes after `end - start` (an appended DTB, a signature…). */
  appended: number;
  /** True when the appended bytes start with the FDT magic 0xd00dfeed (CONFIG_ARM_APPENDED_DTB). */
  appendedDtb: boolean;
  /** The compressed kernel, or null. */
  payload: { stream: LocatedStream; compressed: Uint8Array; offset: number; uncompressedSize: number } | null;
  findings: Finding[];
}

/** True when `bytes` carries the zImage magic at 0x24, in either byte order. Never throws. */
export function isZImage(bytes: Uint8Array): boolean {
  if (bytes.length < 0x30) return false;
  const m = ((bytes[0x24] as number) | ((bytes[0x25] as number) << 8) | ((bytes[0x26] as number) << 16) | ((bytes[0x27] as number) << 24)) >>> 0;
  return m === ARM_ZIMAGE_MAGIC1 || m === 0x18286f01;
}

/**
 * Parses a zImage. Throws `truncated` only when the 0x3c-byte header is not
 * there; other problems are findings (and leave the payload null).
 */
export function parseZImage(bytes: Uint8Array, base = 0): ZImage {
  const v = new ByteView(bytes, ZIMAGE_LAYER, base);
  v.need(0, 0x30, "zImage header");
  const be = v.u32le(0x24, "magic") !== ARM_ZIMAGE_MAGIC1;
  // ZIMAGE_MAGIC(x) byte-swaps every header word of a BE8 kernel.
  const u32 = (o: number, f: string): number => (be ? v.u32be(o, f) : v.u32le(o, f));
  const findings: Finding[] = [];
  const magic = u32(0x24, "magic");
  const start = u32(0x28, "start");
  const end = u32(0x2c, "end");
  // The endianness flag is a plain `.word`: it reads 0x04030201 in the CPU's own order.
  const endian = u32(0x30, "endian");
  if (endian !== ZIMAGE_ENDIAN_FLAG) {
    findings.push({ code: "zimage-bad-endian", severity: "warning", offset: v.abs(0x30), message: `endianness flag ${hex(endian)} is not 0x04030201` });
  }
  const magic2 = v.has(0x34, 4) ? u32(0x34, "magic2") : 0;
  const zi: ZImage = {
    base,
    byteOrder: be ? "BE8" : "LE",
    magic,
    start,
    end,
    endian,
    magic2,
    extension_tag_offset: null,
    tags: [],
    krnlSize: null,
    appended: 0,
    appendedDtb: false,
    payload: null,
    findings,
  };

  // "_magic_end = ZIMAGE_MAGIC(_edata)": the image's size is end - start.
  const size = end - start;
  if (end < start || size > v.length || size < 0x40) {
    findings.push({ code: "zimage-bad-range", severity: "warning", offset: v.abs(0x28), message: `start ${hex(start)} / end ${hex(end)} do not describe a range inside the ${v.length}-byte file` });
  } else {
    zi.appended = v.length - size;
    zi.appendedDtb = v.has(size, 4) && v.u32be(size, "appended DTB magic") === 0xd00dfeed;
  }
  const imageEnd = end >= start && size <= v.length ? size : v.length;

  if (magic2 !== ARM_ZIMAGE_MAGIC2 || !v.has(0x38, 4)) {
    findings.push({ code: "payload-not-found", severity: "warning", offset: v.abs(0x34), message: "no extension table (0x45454545 at 0x34): the compressed kernel's end is not recorded" });
    return zi;
  }
  const tableAt = u32(0x38, "extension_tag_offset");
  zi.extension_tag_offset = tableAt;
  // Tags: "struct tag_header hdr" (size in words, tag), values; a zero size ends the table.
  let p = tableAt;
  for (let n = 0; ; n++) {
    if (!v.has(p, 4) || p + 4 > imageEnd) {
      findings.push({ code: "zimage-bad-table", severity: "warning", offset: v.abs(p), message: `the extension table at ${hex(tableAt)} runs past the image` });
      return zi;
    }
    const words = u32(p, "tag size");
    if (words === 0) break;
    if (n >= MAX_TAGS || words < 2 || !v.has(p, words * 4) || p + words * 4 > imageEnd) {
      findings.push({ code: "zimage-bad-table", severity: "warning", offset: v.abs(p), message: `malformed extension tag of ${words} words at ${hex(p)}` });
      return zi;
    }
    const values: number[] = [];
    for (let i = 2; i < words; i++) values.push(u32(p + 4 * i, "tag value"));
    zi.tags.push({ offset: v.abs(p), size: words, tag: u32(p + 4, "tag"), values });
    p += words * 4;
  }
  const tableEnd = p + 4;
  const ks = zi.tags.find((t) => t.tag === ZIMAGE_TAG_KRNL_SIZE);
  if (!ks || ks.values.length < 2) {
    findings.push({ code: "payload-not-found", severity: "warning", offset: v.abs(tableAt), message: "no ZIMAGE_TAG_KRNL_SIZE tag in the extension table" });
    return zi;
  }
  zi.krnlSize = { size_ptr: ks.values[0] as number, bss_size: ks.values[1] as number, text_offset: ks.values[2] ?? null, malloc_size: ks.values[3] ?? null };
  const sizePtr = zi.krnlSize.size_ptr;
  if (sizePtr < tableEnd || !v.has(sizePtr, 4) || sizePtr + 4 > imageEnd) {
    findings.push({ code: "payload-not-found", severity: "warning", offset: ks.offset, message: `size_ptr ${hex(sizePtr)} does not point between the table and the end of the image` });
    return zi;
  }
  // The appended size is little-endian whatever the CPU order (size_append writes le32).
  const uncompressedSize = v.u32le(sizePtr, "decompressed size (at size_ptr)");
  const stream = locateStreamEndingAt(bytes, tableEnd, sizePtr);
  if (!stream) {
    findings.push({ code: "payload-not-found", severity: "warning", offset: v.abs(sizePtr), message: `no compressed stream ends at size_ptr ${hex(sizePtr)}` });
    return zi;
  }
  if (stream.method === "first-magic") {
    findings.push({ code: "payload-start-heuristic", severity: "info", offset: v.abs(stream.start), message: `the ${stream.codec} stream's start is the first valid header after the table; its format records no way to find it from its end` });
  }
  zi.payload = { stream, compressed: bytes.subarray(stream.start, stream.end), offset: v.abs(stream.start), uncompressedSize };
  return zi;
}

/** The JSON-ready layer of a parsed zImage; its typed header is `zi`. */
export function zImageLayer(zi: ZImage, size: number): Layer<ZImage> {
  const fields: { [key: string]: JsonValue } = {
    byteOrder: zi.byteOrder,
    magic: hex(zi.magic),
    start: hex(zi.start),
    end: hex(zi.end),
    endian: hex(zi.endian),
    magic2: hex(zi.magic2),
    extension_tag_offset: zi.extension_tag_offset === null ? null : hex(zi.extension_tag_offset),
    tags: zi.tags.map((t) => ({
      offset: t.offset,
      size: t.size,
      tag: hex(t.tag),
      name: t.tag === ZIMAGE_TAG_KRNL_SIZE ? "ZIMAGE_TAG_KRNL_SIZE" : t.tag === ZIMAGE_TAG_DECOMP_SIZE ? "ZIMAGE_TAG_DECOMP_SIZE" : null,
      values: t.values.map((x) => hex(x)),
    })),
    krnl_size: zi.krnlSize
      ? { size_ptr: hex(zi.krnlSize.size_ptr), bss_size: zi.krnlSize.bss_size, text_offset: zi.krnlSize.text_offset === null ? null : hex(zi.krnlSize.text_offset), malloc_size: zi.krnlSize.malloc_size }
      : null,
    imageSize: zi.end >= zi.start ? zi.end - zi.start : null,
    appended: zi.appended,
    appendedDtb: zi.appendedDtb,
    payload: zi.payload
      ? { offset: zi.payload.offset, compressedSize: zi.payload.compressed.length, uncompressedSize: zi.payload.uncompressedSize, codec: zi.payload.stream.codec, located: zi.payload.stream.method }
      : null,
  };
  const parts = [`arm zImage (${zi.byteOrder})`, `${zi.end - zi.start} bytes`];
  if (zi.payload) parts.push(`${zi.payload.stream.codec} payload ${zi.payload.compressed.length} -> ${zi.payload.uncompressedSize} bytes`);
  if (zi.appendedDtb) parts.push("appended DTB");
  const layer: Layer = { format: ZIMAGE_LAYER, offset: zi.base, size, summary: parts.join(", "), fields, findings: zi.findings };
  if (zi.payload) {
    const codec: Codec = zi.payload.stream.codec;
    const p: LayerPayload = { bytes: zi.payload.compressed, offset: zi.payload.offset, expectedSize: zi.payload.uncompressedSize, codec };
    layer.payload = p;
  }
  return withHeader(layer, zi);
}

/**
 * The arm zImage format: probes `ARM_ZIMAGE_MAGIC1` (0x016f2818) at 0x24 in
 * either byte order. Its payload is the compressed kernel (`codec` and
 * `expectedSize` from the appended size). Its layers carry the {@link ZImage}.
 */
export const zImageFormat: FormatModule<ZImage> = {
  id: ZIMAGE_LAYER,
  description: "arm32 zImage (decompressor header, extension table, compressed kernel)",
  probe: isZImage,
  parse(bytes: Uint8Array, ctx: ParseContext): Layer<ZImage> {
    const layer = zImageLayer(parseZImage(bytes, Math.max(0, ctx.offset)), bytes.length);
    if (ctx.offset < 0) {
      layer.offset = -1;
      if (layer.payload) layer.payload.offset = -1;
    }
    return layer;
  },
};
