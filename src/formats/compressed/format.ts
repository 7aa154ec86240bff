/**
 * Codec layers: one format module per codec (ids "gzip", "zstd", "xz",
 * "lz4", "bzip2", "lzo", "lzma"), for whole-file compressed kernels
 * (Image.gz, Image.lz4, vmlinux.xz, …) and for the compressed payloads that
 * zboot, bzImage and zImage layers hand on.
 *
 * A codec layer is recognised by the format's **header at offset 0**
 * ({@link hasCodecHeader}); a magic somewhere inside a file never makes a
 * layer. Its payload is the decompressed bytes (offset -1: decoded data).
 *
 * Layer fields: `codec`, `compressedSize` (input bytes the stream used,
 * through its own checksums), `size` (decompressed bytes), `checked`
 * (integrity checks verified), `trailingBytes` after the stream, and when
 * known `expectedSize` (the container's size trailer, checked by the
 * decoder) or `sizeTrailer` (a kernel `size_append` le32 right after the
 * stream in a whole file), and `cut` when the decompressed image is a signed
 * PE followed by zero padding.
 *
 * Why the cut: Makefile.zboot pads the image before compressing it ("Pad the
 * file to the size of the uncompressed image in memory, including BSS").
 * A signed PE ends at its certificate table, and Authenticode hashes every
 * byte up to it; padding after the table would make the signature look
 * wrong. So a decompressed PE whose certificate table ends before the data
 * and is followed only by zeros is cut at the end of that table, and the
 * cut is reported.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { decompress, hasCodecHeader, type CodecProviders } from "../../codecs/index.js";
import { CODECS, DEFAULT_MAX_OUTPUT, type Codec } from "../../codecs/types.js";
import { elfInspectionPrefix } from "../elf/format.js";
import { isKimageError, type Finding } from "../../core/errors.js";
import { parsePe, probePe } from "../pe/parse.js";
import type { FormatModule, JsonValue, Layer, ParseContext } from "../../format/types.js";

/**
 * What a codec layer may learn from the layer that handed it the bytes: the
 * `expectedSize` and `codec` of that layer's {@link LayerPayload}. `inspect`
 * passes them when it forwards them; without them the stream is decoded to
 * its end and nothing is compared.
 */
export interface CompressedParseContext extends ParseContext {
  /** The decompressed size the container states (a size trailer). */
  expectedSize?: number;
  /** The codec the container names. */
  codec?: Codec;
}

/** Options of {@link createCompressedFormats}. */
export interface CompressedFormatOptions {
  /** Platform fast paths (e.g. `{ inflater: nodeInflater }` from `kimage/node`). */
  providers?: CodecProviders;
  /** Cap on decompressed bytes per layer (default {@link DEFAULT_MAX_OUTPUT}, 256 MiB). */
  maxOutput?: number;
}

/** How a decompressed signed PE was cut (see the module doc). */
export interface PeCut {
  /** Length kept: the end of the certificate table. */
  at: number;
  /** Zero bytes dropped after it. */
  dropped: number;
}

/**
 * If `bytes` is a PE whose certificate table ends before the end of
 * `bytes` and only zeros follow, the cut point; otherwise null (and a
 * finding when non-zero data follows the table). Never throws.
 */
export function signedPeCut(bytes: Uint8Array, findings: Finding[] = []): PeCut | null {
  if (!probePe(bytes)) return null;
  let end: number;
  try {
    const pe = parsePe(bytes);
    if (!pe.certificateTable) return null;
    end = pe.certificateTable.offset + pe.certificateTable.size;
  } catch (e) {
    if (isKimageError(e)) return null;
    throw e;
  }
  if (end >= bytes.length) return null;
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== 0) {
      findings.push({
        code: "data-after-certificate-table",
        severity: "warning",
        offset: -1,
        message: `the decompressed PE has non-zero data at ${hex(i)}, after its certificate table (ends at ${hex(end)}); not cut`,
      });
      return null;
    }
  }
  return { at: end, dropped: bytes.length - end };
}

const DESCRIPTIONS: Record<Codec, string> = {
  gzip: "gzip member (RFC 1952), e.g. Image.gz or a zboot/bzImage payload",
  zstd: "Zstandard frame (RFC 8878), e.g. a zboot or bzImage payload",
  xz: "xz stream (xz file format 1.2), e.g. vmlinux.xz or a bzImage/zImage payload",
  lz4: "LZ4 frame or legacy frame (lz4 -l), e.g. Image.lz4",
  bzip2: "bzip2 stream, e.g. a bzImage payload",
  lzo: "lzop container, e.g. a bzImage payload",
  lzma: '"lzma alone" stream (lzma -9), e.g. a bzImage payload',
};

/** How much of a payload `inspect` decodes in "peek" mode before looking at it. */
export const PEEK_BYTES = 64 * 1024;

function u32le(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
}

async function parseCompressed(codec: Codec, bytes: Uint8Array, ctx: CompressedParseContext, options: CompressedFormatOptions): Promise<Layer> {
  const findings: Finding[] = [];
  const base = Math.max(ctx.offset, 0);
  const expectedSize = ctx.expectedSize;
  if (ctx.codec !== undefined && ctx.codec !== codec) {
    findings.push({ code: "codec-name-mismatch", severity: "warning", offset: ctx.offset, message: `the container names ${ctx.codec}, the header is ${codec}` });
  }
  const maxOutput = options.maxOutput ?? DEFAULT_MAX_OUTPUT;
  const common = { base, ...(options.providers ? { providers: options.providers } : {}) };
  let r;
  if (ctx.decode === "peek") {
    // Inspection decodes only the start: PEEK_BYTES, extended to the end of an ELF's
    // notes (the build-id) when the payload is an ELF. Sizes then come from the container.
    r = await decompress(bytes, codec, { ...common, maxOutput: Math.min(PEEK_BYTES, maxOutput), partial: true });
    const need = r.complete ? null : elfInspectionPrefix(r.bytes);
    if (need !== null && need > r.bytes.length) {
      r = await decompress(bytes, codec, { ...common, maxOutput: Math.min(need, maxOutput), partial: true });
    }
  } else {
    r = await decompress(bytes, codec, { ...common, maxOutput, ...(expectedSize !== undefined ? { expectedSize } : {}) });
  }
  if (!r.complete) {
    const fields: { [key: string]: JsonValue } = { codec, compressedSize: bytes.length, size: expectedSize ?? null, decoded: r.bytes.length, complete: false };
    return {
      format: codec,
      offset: ctx.offset,
      size: bytes.length,
      summary: `${codec}: ${bytes.length} bytes${expectedSize !== undefined ? ` -> ${expectedSize} bytes (stated)` : ""}; the first ${r.bytes.length} decoded for inspection`,
      fields,
      findings,
      payload: { bytes: r.bytes, offset: -1, ...(expectedSize !== undefined ? { fileSize: expectedSize } : {}) },
    };
  }
  const trailing = bytes.length - r.consumed;
  const fields: { [key: string]: JsonValue } = {
    codec,
    compressedSize: r.consumed,
    size: r.bytes.length,
    checked: r.checked,
    complete: r.complete,
    trailingBytes: trailing,
  };
  if (expectedSize !== undefined) fields.expectedSize = expectedSize;
  if (trailing === 4 && expectedSize === undefined) {
    // The kernel's size_append: "printf ... the file size as le32" after the stream.
    const v = u32le(bytes, r.consumed);
    if (v === r.bytes.length >>> 0) {
      fields.sizeTrailer = v;
      findings.push({ code: "size-trailer", severity: "info", offset: ctx.offset >= 0 ? ctx.offset + r.consumed : -1, message: `a le32 size trailer (${v}) follows the ${codec} stream (the kernel's size_append)` });
    }
  }
  if (trailing > 0 && fields.sizeTrailer === undefined) {
    findings.push({ code: "trailing-bytes", severity: "info", offset: ctx.offset >= 0 ? ctx.offset + r.consumed : -1, message: `${trailing} byte(s) follow the ${codec} stream` });
  }
  let out = r.bytes;
  const cut = signedPeCut(out, findings);
  if (cut) {
    out = out.subarray(0, cut.at);
    fields.cut = { at: cut.at, dropped: cut.dropped, reason: "signed PE: kept through its certificate table, dropped the zero padding after it" };
    findings.push({ code: "signed-pe-cut", severity: "info", offset: -1, message: `decompressed signed PE cut at the end of its certificate table (${hex(cut.at)}), ${cut.dropped} zero byte(s) dropped` });
  }
  return {
    format: codec,
    offset: ctx.offset,
    size: bytes.length,
    summary: `${codec}: ${r.consumed} -> ${r.bytes.length} bytes${r.checked.length ? ` (${r.checked.join(", ")} verified)` : ""}${cut ? `, cut to ${cut.at}` : ""}`,
    fields,
    findings,
    payload: { bytes: out, offset: -1 },
  };
}

/** One codec format module (id = the codec id), with the given options. */
export function createCompressedFormat(codec: Codec, options: CompressedFormatOptions = {}): FormatModule {
  return {
    id: codec,
    description: DESCRIPTIONS[codec],
    probe: (bytes) => hasCodecHeader(bytes, codec),
    parse: (bytes, ctx) => parseCompressed(codec, bytes, ctx, options),
  };
}

/**
 * The codec format modules, formats with a magic first and "lzma alone"
 * (which has none) last, with the given options (platform providers,
 * output cap).
 */
export function createCompressedFormats(options: CompressedFormatOptions = {}): FormatModule[] {
  const order: Codec[] = ["gzip", "zstd", "xz", "lz4", "bzip2", "lzo", "lzma"];
  if (order.length !== CODECS.length) throw new Error("codec list out of date");
  return order.map((c) => createCompressedFormat(c, options));
}

/** gzip layer (pure TypeScript inflate). */
export const gzipFormat: FormatModule = createCompressedFormat("gzip");
/** Zstandard layer. */
export const zstdFormat: FormatModule = createCompressedFormat("zstd");
/** xz layer (with the BCJ filters kernels use). */
export const xzFormat: FormatModule = createCompressedFormat("xz");
/** LZ4 layer (frame and legacy). */
export const lz4Format: FormatModule = createCompressedFormat("lz4");
/** bzip2 layer. */
export const bzip2Format: FormatModule = createCompressedFormat("bzip2");
/** lzop layer. */
export const lzoFormat: FormatModule = createCompressedFormat("lzo");
/** "lzma alone" layer. */
export const lzmaFormat: FormatModule = createCompressedFormat("lzma");

/** The default codec layers, in probe order (see {@link createCompressedFormats}). */
export const compressedFormats: readonly FormatModule[] = [gzipFormat, zstdFormat, xzFormat, lz4Format, bzip2Format, lzoFormat, lzmaFormat];
