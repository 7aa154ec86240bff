/**
 * The s390 kernel image (arch/s390/boot): the IPL header (head.S: "The first
 * 24 bytes are loaded by ipl to addresses 0-23. (a PSW and two CCWs)"), the
 * entry-point table ("At address 0x1000f the number of valid entry points is
 * stored ... it is s390 kernel ABI!"), the parmarea (arch/s390/include/asm/setup.h
 * `struct parmarea` at PARMAREA 0x10400), and the compressed kernel.
 *
 * How the payload is located, from the image's own layout
 * (arch/s390/boot/vmlinux.lds.S):
 * - `.rodata.compressed : { _compressed_start = .; *(.vmlinux.bin.compressed) _compressed_end = .; }`
 *   comes last, after `. = ALIGN(8)`; `vmlinux.bin.compressed` is the
 *   compressed kernel followed by the build's le32 size (`size_append`);
 * - then `. = ALIGN(4096) - SB_TRAILER_SIZE; .sb.trailer : { QUAD(0) QUAD(0)
 *   QUAD(0) QUAD(0x000000207a49504c) }` ends the file ("Trailer needed for
 *   Secure Boot"), with zero fill before it.
 *
 * So the size trailer ends at the last non-zero byte before the zero fill
 * (up to three of its high bytes may be zero: each of those ends is tried),
 * and the compressed stream ends where the trailer starts. Its start comes
 * from the stream's own structure ({@link locateStreamEndingAt}): xz from its
 * footer and index, zstd by walking its blocks to exactly that end from an
 * 8-aligned start (the decompressor's own zstd magics, including a complete
 * 738-byte frame, end elsewhere). No header field records these offsets;
 * the kernel's decompressor knows them only as link-time symbols.
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import type { Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer, LayerPayload, ParseContext } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";
import { locateStreamEndingAt, type LocatedStream } from "../../codecs/streams.js";

/** Format id of the s390 image layer. */
export const S390_LAYER = "s390-image";
/** setup.h: `#define EP_OFFSET 0x10008`, `#define EP_STRING "S390EP"`. */
export const EP_OFFSET = 0x10008;
/** setup.h: `#define EP_STRING "S390EP"`. */
export const EP_STRING = "S390EP";
/** setup.h: `#define PARMAREA 0x10400`. */
export const PARMAREA = 0x10400;
/** setup.h: `#define COMMAND_LINE_OFFSET 0x10480`. */
export const COMMAND_LINE_OFFSET = 0x10480;
/** setup.h: `#define LEGACY_COMMAND_LINE_SIZE 896`. */
export const LEGACY_COMMAND_LINE_SIZE = 896;
/** setup.h: `#define EARLY_SCCB_OFFSET 0x11000` (the decompressor code follows the head). */
export const EARLY_SCCB_OFFSET = 0x11000;
/** vmlinux.lds.S `.sb.trailer`: the last quad, `QUAD(0x000000207a49504c)` ("zIPL", size 0x20). */
export const SB_TRAILER_MAGIC = 0x000000207a49504cn;
/** vmlinux.lds.S: `#define SB_TRAILER_SIZE 32`. */
export const SB_TRAILER_SIZE = 32;
/** head.S: `.long 0x00080000,0x80000000+iplstart # The first 24 bytes are loaded` (the PSW's first word). */
export const IPL_PSW_MASK = 0x00080000;

/** A format-0 CCW as head.S writes them (`.long 0x02000018,0x60000050`). */
export interface Ccw {
  /** Command code (0x02 = read). */
  cmd: number;
  /** 24-bit data address. */
  address: number;
  /** Flags byte (0x60 = chain command + suppress length indication). */
  flags: number;
  count: number;
}

/** `struct parmarea` (arch/s390/include/asm/setup.h). */
export interface Parmarea {
  /** 0x10400 */
  ipl_device: bigint;
  /** 0x10408 */
  initrd_start: bigint;
  /** 0x10410 */
  initrd_size: bigint;
  /** 0x10418 */
  oldmem_base: bigint;
  /** 0x10420 */
  oldmem_size: bigint;
  /** 0x10428: "points to kernel version string" (an address; the image is loaded at 0). */
  kernel_version: bigint;
  /** 0x10430 (newer kernels; 0 means LEGACY_COMMAND_LINE_SIZE). */
  max_command_line_size: bigint;
  /** 0x10480: the built-in command line. */
  command_line: string;
}

/** A parsed s390 image. */
export interface S390Image {
  base: number;
  /** The IPL PSW (first 8 bytes): mask word and address word. */
  ipl_psw: { mask: number; address: number };
  /** The two CCWs at 8 and 16. */
  ccws: Ccw[];
  /** Number of valid entry points (the byte at 0x1000f), or null without "S390EP". */
  entryPoints: number | null;
  parmarea: Parmarea | null;
  /** The string `kernel_version` points at, or null. */
  kernelVersion: string | null;
  /** True when the file ends with the Secure Boot trailer. */
  sbTrailer: boolean;
  payload: { stream: LocatedStream; compressed: Uint8Array; offset: number; uncompressedSize: number } | null;
  findings: Finding[];
}

/**
 * True for an s390 image: the IPL PSW's first word 0x00080000, the first CCW
 * a read (0x02) with flags 0x60, and "S390EP" at 0x10008. Never throws.
 */
export function isS390Image(bytes: Uint8Array): boolean {
  if (bytes.length < EP_OFFSET + 8) return false;
  const be32 = (i: number): number => (((bytes[i] as number) << 24) | ((bytes[i + 1] as number) << 16) | ((bytes[i + 2] as number) << 8) | (bytes[i + 3] as number)) >>> 0;
  if (be32(0) !== IPL_PSW_MASK || bytes[8] !== 0x02 || bytes[12] !== 0x60) return false;
  for (let i = 0; i < EP_STRING.length; i++) if (bytes[EP_OFFSET + i] !== EP_STRING.charCodeAt(i)) return false;
  return true;
}

function ccw(v: ByteView, at: number): Ccw {
  const w0 = v.u32be(at, "CCW");
  const w1 = v.u32be(at + 4, "CCW");
  return { cmd: w0 >>> 24, address: w0 & 0xffffff, flags: w1 >>> 24, count: w1 & 0xffff };
}

/**
 * Parses an s390 image. Throws `truncated` only when the 24-byte IPL header
 * is not there; a missing parmarea or payload is a finding.
 */
export function parseS390Image(bytes: Uint8Array, base = 0): S390Image {
  const v = new ByteView(bytes, S390_LAYER, base);
  v.need(0, 24, "IPL PSW and CCWs");
  const findings: Finding[] = [];
  const img: S390Image = {
    base,
    ipl_psw: { mask: v.u32be(0, "IPL PSW"), address: v.u32be(4, "IPL PSW address") },
    ccws: [ccw(v, 8), ccw(v, 16)],
    entryPoints: v.matches(EP_OFFSET, EP_STRING) && v.has(0x1000f, 1) ? v.u8(0x1000f, "entry point count") : null,
    parmarea: null,
    kernelVersion: null,
    sbTrailer: false,
    payload: null,
    findings,
  };

  if (!v.has(PARMAREA, 0x38) || !v.has(COMMAND_LINE_OFFSET, 1)) {
    findings.push({ code: "s390-bad-parmarea", severity: "warning", offset: v.abs(PARMAREA), message: `the parmarea at 0x10400 runs past the end of the ${v.length}-byte image` });
  } else {
    const q = (o: number, f: string): bigint => v.u64be(PARMAREA + o, f);
    const max = q(0x30, "max_command_line_size");
    const cmdMax = max > 0n && max <= 1n << 20n ? Number(max) : LEGACY_COMMAND_LINE_SIZE;
    img.parmarea = {
      ipl_device: q(0x00, "ipl_device"),
      initrd_start: q(0x08, "initrd_start"),
      initrd_size: q(0x10, "initrd_size"),
      oldmem_base: q(0x18, "oldmem_base"),
      oldmem_size: q(0x20, "oldmem_size"),
      kernel_version: q(0x28, "kernel_version"),
      max_command_line_size: max,
      command_line: v.cstring(COMMAND_LINE_OFFSET, cmdMax, "command_line"),
    };
    // "unsigned long kernel_version; /* 0x10428 */" points at the string; the image is loaded at 0.
    const kv = img.parmarea.kernel_version;
    if (kv > 0n && kv < BigInt(v.length)) img.kernelVersion = v.cstring(Number(kv), 256, "kernel version string");
  }

  // The end of the compressed stream: before the zero fill that precedes the sb trailer.
  let tail = v.length;
  if (v.length >= SB_TRAILER_SIZE && v.u64be(v.length - 8, "sb trailer") === SB_TRAILER_MAGIC) {
    img.sbTrailer = true;
    tail = v.length - SB_TRAILER_SIZE;
  }
  let k = tail;
  while (k > EARLY_SCCB_OFFSET && bytes[k - 1] === 0) k--;
  let found: LocatedStream | null = null;
  for (let end = k; end <= Math.min(k + 3, tail) && !found; end++) {
    const streamEnd = end - 4;
    if (streamEnd <= EARLY_SCCB_OFFSET) break;
    found = locateStreamEndingAt(bytes, EARLY_SCCB_OFFSET, streamEnd, 8) ?? locateStreamEndingAt(bytes, EARLY_SCCB_OFFSET, streamEnd, 1);
  }
  if (!found) {
    findings.push({ code: "payload-not-found", severity: "warning", offset: v.abs(k), message: "no compressed stream ends at the size trailer before the image's zero fill" });
  } else {
    if (found.method === "first-magic") {
      findings.push({ code: "payload-start-heuristic", severity: "info", offset: v.abs(found.start), message: `the ${found.codec} stream's start is the first valid header after the head; its format records no way to find it from its end` });
    }
    img.payload = { stream: found, compressed: bytes.subarray(found.start, found.end), offset: v.abs(found.start), uncompressedSize: v.u32le(found.end, "decompressed size trailer") };
  }
  return img;
}

/** The JSON-ready layer of a parsed s390 image; its typed header is `img`. */
export function s390ImageLayer(img: S390Image, size: number): Layer<S390Image> {
  const pa = img.parmarea;
  const fields: { [key: string]: JsonValue } = {
    ipl_psw: { mask: hex(img.ipl_psw.mask), address: hex(img.ipl_psw.address & 0x7fffffff), amode31: (img.ipl_psw.address & 0x80000000) !== 0 },
    ccws: img.ccws.map((c) => ({ cmd: hex(c.cmd), address: hex(c.address), flags: hex(c.flags), count: c.count })),
    entryPoints: img.entryPoints,
    parmarea: pa
      ? {
          ipl_device: hex(pa.ipl_device),
          initrd_start: hex(pa.initrd_start),
          initrd_size: hex(pa.initrd_size),
          oldmem_base: hex(pa.oldmem_base),
          oldmem_size: hex(pa.oldmem_size),
          kernel_version: hex(pa.kernel_version),
          max_command_line_size: hex(pa.max_command_line_size),
          command_line: pa.command_line,
        }
      : null,
    kernelVersion: img.kernelVersion,
    sbTrailer: img.sbTrailer,
    payload: img.payload
      ? { offset: img.payload.offset, compressedSize: img.payload.compressed.length, uncompressedSize: img.payload.uncompressedSize, codec: img.payload.stream.codec, located: img.payload.stream.method }
      : null,
  };
  const parts = ["s390 image"];
  if (img.kernelVersion) parts.push(`kernel ${img.kernelVersion.split(" ")[0] ?? ""}`);
  if (img.payload) parts.push(`${img.payload.stream.codec} payload ${img.payload.compressed.length} -> ${img.payload.uncompressedSize} bytes`);
  const layer: Layer = { format: S390_LAYER, offset: img.base, size, summary: parts.join(", "), fields, findings: img.findings };
  if (img.payload) {
    const p: LayerPayload = { bytes: img.payload.compressed, offset: img.payload.offset, expectedSize: img.payload.uncompressedSize, codec: img.payload.stream.codec };
    layer.payload = p;
  }
  return withHeader(layer, img);
}

/**
 * The s390 image format (IPL header + "S390EP" + parmarea). Its payload is
 * the compressed kernel with `codec` and `expectedSize` (the le32 trailer).
 * Its layers carry the {@link S390Image}.
 */
export const s390ImageFormat: FormatModule<S390Image> = {
  id: S390_LAYER,
  description: "s390 kernel image (IPL header, parmarea, compressed kernel)",
  probe: isS390Image,
  parse(bytes: Uint8Array, ctx: ParseContext): Layer<S390Image> {
    const layer = s390ImageLayer(parseS390Image(bytes, Math.max(0, ctx.offset)), bytes.length);
    if (ctx.offset < 0) {
      layer.offset = -1;
      if (layer.payload) layer.payload.offset = -1;
    }
    return layer;
  },
};
