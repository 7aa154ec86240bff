/**
 * The EFI zboot header: the fields `drivers/firmware/efi/libstub/zboot-header.S`
 * places in the MS-DOS header of a self-decompressing EFI zboot image
 * (`CONFIG_EFI_ZBOOT`: arm64, RISC-V, LoongArch), and the size trailer
 * `Makefile.zboot` appends to the compressed payload.
 *
 * ```
 * .Ldoshdr:
 *     .long  MZ_MAGIC
 *     .ascii "zimg"                                   // image type
 *     .long  __efistub__gzdata_start - .Ldoshdr       // payload offset
 *     .long  __efistub__gzdata_size - ZBOOT_SIZE_LEN  // payload size
 *     .long  0, 0                                     // reserved
 *     .asciz COMP_TYPE                                // compression type
 *     .org   .Ldoshdr + 0x38
 *     .long  LINUX_PE_MAGIC
 *     .long  .Lpehdr - .Ldoshdr                       // PE header offset
 * ```
 *
 * The field names below are those of kexec-tools' `struct
 * linux_pe_zboot_header` (mz_magic, image_type, payload_offset,
 * payload_size, reserved, compress_type), which restates that layout.
 *
 * The header carries no size of the inner image; the only one is the le32
 * trailer (zboot.c: "The uncompressed size of the payload is appended to the
 * raw bit stream"). Where it sits depends on the method (Makefile.zboot):
 * "in GZIP, the appended le32 carrying the uncompressed size is part of the
 * format, but in other cases, we just append it at the end for convenience
 * … So disregard it when calculating the payload size in the zimage
 * header." So for gzip `payload_size` includes the trailer (ISIZE, the last
 * 4 bytes of the payload; `zboot-size-len` 0), and for every other method
 * the trailer is the 4 bytes after `payload_size` (`zboot-size-len` 4).
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import type { Codec } from "../../codecs/types.js";
import { KimageError, type Finding } from "../../core/errors.js";

/** Format id of the zboot layer. */
export const ZBOOT_LAYER = "zboot";

/** `LINUX_PE_MAGIC` (include/linux/pe.h): the le32 zboot-header.S writes at 0x38 (`.long LINUX_PE_MAGIC`). */
export const LINUX_PE_MAGIC = 0x818223cd;

/** Offsets of the zboot header fields, relative to the start of the image. */
export const ZBOOT_OFFSETS = {
  mz_magic: 0x00,
  image_type: 0x04,
  payload_offset: 0x08,
  payload_size: 0x0c,
  reserved: 0x10,
  compress_type: 0x18,
  linux_pe_magic: 0x38,
  pe_header_offset: 0x3c,
} as const;

/** Size of the header: the MS-DOS header through the PE header offset. */
export const ZBOOT_HEADER_SIZE = 0x40;

/** Longest compression-type string: from 0x18 to the `.org 0x38`. */
export const ZBOOT_COMPRESS_TYPE_MAX = ZBOOT_OFFSETS.linux_pe_magic - ZBOOT_OFFSETS.compress_type;

/**
 * `COMP_TYPE` strings (Makefile.zboot `comp-type-*`, across kernel
 * versions) and the codec each one names. "zstd22" and "xzkern" are the
 * Kbuild method names v6.1-v6.7 used; later kernels write "zstd".
 */
export const ZBOOT_COMPRESS_TYPES: Readonly<Record<string, Codec>> = {
  gzip: "gzip",
  lz4: "lz4",
  lzma: "lzma",
  lzo: "lzo",
  xzkern: "xz",
  xz: "xz",
  zstd22: "zstd",
  zstd: "zstd",
  bzip2: "bzip2",
};

/** A parsed zboot header. Offsets are relative to the image unless named absolute. */
export interface ZbootHeader {
  /** `MZ_MAGIC` ("MZ", 0x5a4d) in the low half of the first le32. */
  mz_magic: number;
  /** "zimg". */
  image_type: string;
  /** Offset of the compressed payload from the start of the image. */
  payload_offset: number;
  /** Size of the compressed payload; for gzip it includes the size trailer (ISIZE), otherwise not. */
  payload_size: number;
  /** The two reserved le32 words (0 in every kernel so far). */
  reserved: [number, number];
  /** The compression type string (`COMP_TYPE`). */
  compress_type: string;
  /** The le32 at 0x38 (`LINUX_PE_MAGIC` = 0x818223cd). */
  linux_pe_magic: number;
  /** The le32 at 0x3c: the PE header offset (`e_lfanew`). */
  pe_header_offset: number;
  /** The codec `compress_type` names. */
  codec: Codec;
  /** `zboot-size-len`: 0 for gzip (the trailer is inside the payload), 4 otherwise. */
  size_len: 0 | 4;
  /** Offset of the le32 size trailer (relative to the image). */
  trailerOffset: number;
  /** The decompressed size the trailer states. */
  uncompressedSize: number;
  /** Non-fatal observations. */
  findings: Finding[];
}

/** True when `bytes` starts with "MZ" and has "zimg" at 4 and room for the header. Never throws. */
export function probeZboot(bytes: Uint8Array): boolean {
  const v = new ByteView(bytes, ZBOOT_LAYER);
  return v.length >= ZBOOT_HEADER_SIZE && v.matches(0, "MZ") && v.matches(ZBOOT_OFFSETS.image_type, "zimg");
}

/**
 * Parses the zboot header of `bytes` (the whole zboot image) and locates
 * its payload and size trailer.
 *
 * @param base absolute offset of `bytes[0]` in the outermost input.
 * @throws KimageError `unknown-format` (no "MZ"/"zimg"), `truncated` (the
 *   header, the payload or the trailer runs past the end of the image; the
 *   payload starts inside the header), `unsupported` (an unknown
 *   compression type).
 */
export function parseZbootHeader(bytes: Uint8Array, base = 0): ZbootHeader {
  const v = new ByteView(bytes, ZBOOT_LAYER, base);
  const findings: Finding[] = [];
  const O = ZBOOT_OFFSETS;
  if (!v.matches(0, "MZ") || !v.matches(O.image_type, "zimg")) {
    throw new KimageError("unknown-format", 'not an EFI zboot image: no "MZ" at 0 and "zimg" at 4', { layer: ZBOOT_LAYER, offset: base });
  }
  v.need(0, ZBOOT_HEADER_SIZE, "zboot header");
  const mz_magic = v.u32le(O.mz_magic, "mz_magic");
  const image_type = v.cstring(O.image_type, 4, "image_type");
  const payload_offset = v.u32le(O.payload_offset, "payload_offset");
  const payload_size = v.u32le(O.payload_size, "payload_size");
  const reserved: [number, number] = [v.u32le(O.reserved, "reserved[0]"), v.u32le(O.reserved + 4, "reserved[1]")];
  // ".asciz COMP_TYPE" then ".org .Ldoshdr + 0x38": the string and its NUL end before 0x38.
  const compress_type = v.cstring(O.compress_type, ZBOOT_COMPRESS_TYPE_MAX, "compress_type");
  const linux_pe_magic = v.u32le(O.linux_pe_magic, "linux_pe_magic");
  const pe_header_offset = v.u32le(O.pe_header_offset, "pe_header_offset");

  if (compress_type.length >= ZBOOT_COMPRESS_TYPE_MAX) {
    findings.push({ code: "zboot-compress-type-unterminated", severity: "warning", offset: v.abs(O.compress_type), message: "compress_type has no NUL before 0x38" });
  }
  if (reserved[0] !== 0 || reserved[1] !== 0) {
    findings.push({ code: "zboot-reserved-nonzero", severity: "info", offset: v.abs(O.reserved), message: `reserved = [${hex(reserved[0])}, ${hex(reserved[1])}] (zboot-header.S writes 0, 0)` });
  }
  if (linux_pe_magic !== LINUX_PE_MAGIC) {
    findings.push({ code: "zboot-no-linux-pe-magic", severity: "info", offset: v.abs(O.linux_pe_magic), message: `0x38 holds ${hex(linux_pe_magic)}, not LINUX_PE_MAGIC ${hex(LINUX_PE_MAGIC)}` });
  }
  const codec = ZBOOT_COMPRESS_TYPES[compress_type];
  if (codec === undefined || !Object.prototype.hasOwnProperty.call(ZBOOT_COMPRESS_TYPES, compress_type)) {
    throw new KimageError("unsupported", `unknown zboot compression type ${JSON.stringify(compress_type)}`, { layer: ZBOOT_LAYER, offset: v.abs(O.compress_type) });
  }
  if (payload_offset < ZBOOT_HEADER_SIZE) {
    throw new KimageError("truncated", `payload_offset ${hex(payload_offset)} lies inside the zboot header`, { layer: ZBOOT_LAYER, offset: v.abs(O.payload_offset) });
  }
  if (!v.has(payload_offset, payload_size)) {
    throw new KimageError(
      "truncated",
      `payload (payload_offset ${hex(payload_offset)}, payload_size ${hex(payload_size)}) runs past the end of the image (${hex(v.length)})`,
      { layer: ZBOOT_LAYER, offset: v.abs(O.payload_size) },
    );
  }
  // Makefile.zboot: zboot-size-len-$(CONFIG_KERNEL_GZIP) := 0, otherwise 4.
  const size_len: 0 | 4 = codec === "gzip" ? 0 : 4;
  const trailerOffset = size_len === 0 ? payload_offset + payload_size - 4 : payload_offset + payload_size;
  if (trailerOffset < payload_offset || !v.has(trailerOffset, 4)) {
    throw new KimageError("truncated", `the le32 size trailer at ${hex(v.abs(Math.max(trailerOffset, 0)))} lies outside the image or the payload`, {
      layer: ZBOOT_LAYER,
      offset: v.abs(O.payload_size),
    });
  }
  const uncompressedSize = v.u32le(trailerOffset, "size trailer");
  return {
    mz_magic,
    image_type,
    payload_offset,
    payload_size,
    reserved,
    compress_type,
    linux_pe_magic,
    pe_header_offset,
    codec,
    size_len,
    trailerOffset,
    uncompressedSize,
    findings,
  };
}
