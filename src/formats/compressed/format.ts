/**
 * Codec layers: one format module per codec (ids "gzip", "zstd", "xz",
 * "lz4", "bzip2", "lzo", "lzma"), for whole-file compressed kernels
 * (Image.gz, Image.lz4, vmlinux.xz, …) and for the compressed payloads that
 * zboot, bzImage and zImage layers hand on.
 *
 * A codec layer is recognised by the format's **header at offset 0**
 * ({@link hasCodecHeader}); a magic somewhere inside a file never makes a
 * layer. Its payload is the decompressed bytes (offset -1: decoded data),
 * and its typed header the {@link DecodedStream}.
 *
 * Layer fields: `codec`, `compressedSize` (input bytes the stream used,
 * through its own checksums), `size` (decompressed bytes), `checked`
 * (integrity checks verified), `trailingBytes` after the stream, and when
 * known `expectedSize` (the container's size trailer, checked by the
 * decoder) or `sizeTrailer` (a kernel `size_append` le32 right after the
 * stream in a whole file), and `cut` when the format of the decoded bytes
 * trims padding after its own content (a signed PE followed by zeros).
 *
 * The codec layer knows no format. What it needs to know about the decoded
 * bytes it asks the hooks of the probe table it is given
 * (`ParseContext.formats`, which `inspect` passes; else
 * {@link CompressedFormatOptions.formats}):
 * - in "peek" mode, `inspectionPrefix`: how much of the payload inspection
 *   needs beyond the first {@link PEEK_BYTES} (an ELF: through its notes);
 * - in "full" mode, `trimPadding`: where the decoded format's own content
 *   ends when padding follows (a signed PE: the end of its certificate
 *   table; see `src/formats/pe/padding.ts`), reported as `cut`;
 * - in "scan" mode, `inspectionRanges`: the byte ranges inspection reads,
 *   which `scan.ts` keeps (with the tail) while it decodes the whole stream.
 *
 * @module
 */

import { decompress, hasCodecHeader, type CodecProviders, type DecompressResult } from "../../codecs/index.js";
import { streamingCodecs } from "../../codecs/stream.js";
import { CODECS, DEFAULT_MAX_OUTPUT, type Codec } from "../../codecs/types.js";
import type { Finding } from "../../core/errors.js";
import { findBanner, type Banner } from "../../format/banner.js";
import { withHeader } from "../../format/layer.js";
import { inspectionPrefix, trimPadding } from "../../format/table.js";
import type { FormatModule, JsonValue, Layer, PaddingTrim, ParseContext } from "../../format/types.js";
import { PEEK_BYTES, scanStream, searchBanner, type Scan } from "./scan.js";

export { PEEK_BYTES, SCAN_MAX_RANGES, SCAN_TAIL_BYTES } from "./scan.js";

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
  /**
   * The probe table whose hooks apply to the decoded bytes when the
   * {@link ParseContext} carries none (`ctx.formats`). A function, so that
   * a table can hold the very modules bound to it. Default: no table (no
   * hooks) unless the context gives one.
   */
  formats?: () => readonly FormatModule[];
}

/**
 * A codec layer's typed header: what the decoder produced. `decoded` is all
 * of it, before any trim (the layer's payload is `decoded` itself, or its
 * first `trim.at` bytes), so `kernelIdentity` and plans reuse it instead of
 * decoding the stream again.
 */
export interface DecodedStream {
  /** The codec that decoded it. */
  codec: Codec;
  /** Every byte the decoder produced: the whole stream when `complete`, else the prefix decoded for inspection. */
  decoded: Uint8Array;
  /** True when the stream was decoded to its end (and its checks verified). */
  complete: boolean;
  /** Input bytes the stream used (through its checksums); null when not decoded to its end. */
  consumed: number | null;
  /** The trim a format hook asked for (see the module doc), or null. */
  trim: PaddingTrim | null;
  /** Decoded bytes the layer's decoding reached (the furthest point in the stream), which may exceed `decoded.length` in "peek" mode. */
  decodedBytes?: number;
  /**
   * In "peek" mode: the `linux_banner` found by reading on through the stream
   * past the kept prefix (offset in the decoded stream), or null when the
   * stream holds none or the search stopped; undefined when not searched.
   */
  banner?: Banner | null;
  /** In "scan" mode: the IKCONFIG gzip stream (between "IKCFG_ST" and "IKCFG_ED") found on the way, or null; undefined when not searched. */
  ikconfig?: Uint8Array | null;
  /** In "scan" mode: ranges of `decoded` that were not kept (zeros), as in the payload's `holes`. */
  holes?: readonly (readonly [number, number])[];
}

/** The {@link DecodedStream} of a codec layer, or undefined for any other layer (or a codec layer built without one). */
export function decodedStream(layer: Layer | undefined): DecodedStream | undefined {
  if (!layer || !(CODECS as readonly string[]).includes(layer.format)) return undefined;
  const h = layer.header as DecodedStream | undefined;
  return h && h.decoded instanceof Uint8Array ? h : undefined;
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

function u32le(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
}

async function parseCompressed(codec: Codec, bytes: Uint8Array, ctx: CompressedParseContext, options: CompressedFormatOptions): Promise<Layer<DecodedStream>> {
  const findings: Finding[] = [];
  const base = Math.max(ctx.offset, 0);
  const expectedSize = ctx.expectedSize;
  if (ctx.codec !== undefined && ctx.codec !== codec) {
    findings.push({ code: "codec-name-mismatch", severity: "warning", offset: ctx.offset, message: `the container names ${ctx.codec}, the header is ${codec}` });
  }
  const maxOutput = options.maxOutput ?? DEFAULT_MAX_OUTPUT;
  const common = { base, ...(options.providers ? { providers: options.providers } : {}) };
  const formats = ctx.formats ?? options.formats?.() ?? [];
  let r: DecompressResult;
  let banner: Banner | null | undefined;
  let decodedBytes: number;
  let scan: Scan | null = null;
  if (ctx.decode === "peek") {
    // Inspection decodes only the start: PEEK_BYTES, extended to what the decoded format says
    // inspection needs (an ELF: through its notes, the build-id). Sizes then come from the container.
    r = await decompress(bytes, codec, { ...common, maxOutput: Math.min(PEEK_BYTES, maxOutput), partial: true });
    const need = r.complete ? null : inspectionPrefix(r.bytes, formats);
    if (need !== null && need > r.bytes.length) {
      r = await decompress(bytes, codec, { ...common, maxOutput: Math.min(need, maxOutput), partial: true });
    }
    decodedBytes = r.bytes.length;
    // The release: when no outer layer names it and the prefix lacks the banner, read on through
    // the stream for it (streamed: only the decoder's window is held), and stop once it is found.
    if (!r.complete && !ctx.versionKnown) {
      banner = findBanner(r.bytes);
      if (banner === null || banner.offset + banner.text.length >= r.bytes.length) {
        const s = await searchBanner(codec, bytes, { ...common, maxOutput }, findings, ctx.offset, ctx.onProgress);
        banner = s.banner;
        decodedBytes = Math.max(decodedBytes, s.produced);
      }
    }
  } else {
    const scanned = ctx.decode === "scan" && streamingCodecs().includes(codec) ? await scanStream(codec, bytes, { ...common, maxOutput, ...(expectedSize !== undefined ? { expectedSize } : {}) }, formats, ctx.onProgress) : null;
    if (scanned) {
      r = scanned.r;
      scan = scanned;
    } else {
      r = await decompress(bytes, codec, { ...common, maxOutput, ...(expectedSize !== undefined ? { expectedSize } : {}) });
    }
    decodedBytes = r.bytes.length;
    ctx.onProgress?.({ phase: `decode ${codec}`, done: r.consumed, total: bytes.length });
  }
  if (!r.complete) {
    const fields: { [key: string]: JsonValue } = { codec, compressedSize: bytes.length, size: expectedSize ?? null, decoded: r.bytes.length, complete: false, decodedBytes };
    if (banner) {
      findings.push({ code: "banner", severity: "info", offset: -1, message: `linux_banner at decoded offset ${banner.offset} (the stream was decoded through ${decodedBytes} bytes to find it; ${r.bytes.length} kept)` });
    }
    const layer: Layer = {
      format: codec,
      offset: ctx.offset,
      size: bytes.length,
      summary: `${codec}: ${bytes.length} bytes${expectedSize !== undefined ? ` -> ${expectedSize} bytes (stated)` : ""}; the first ${r.bytes.length} decoded for inspection`,
      fields,
      findings,
      payload: { bytes: r.bytes, offset: -1, ...(expectedSize !== undefined ? { fileSize: expectedSize } : {}) },
    };
    return withHeader(layer, { codec, decoded: r.bytes, complete: false, consumed: null, trim: null, decodedBytes, ...(banner !== undefined ? { banner } : {}) });
  }
  const trailing = bytes.length - r.consumed;
  const fields: { [key: string]: JsonValue } = {
    codec,
    compressedSize: r.consumed,
    size: r.bytes.length,
    checked: r.checked,
    complete: r.complete,
    trailingBytes: trailing,
    decodedBytes,
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
  const holes = scan?.holes ?? [];
  if (holes.length > 0) {
    const kept = r.bytes.length - holes.reduce((n, [a, b]) => n + (b - a), 0);
    findings.push({ code: "scan-kept", severity: "info", offset: -1, message: `the stream was decoded to its end; ${kept} of its ${r.bytes.length} decoded bytes were kept (the ranges inspection reads and the tail)` });
  }
  // A format that trims padding reads the whole data: scanStream keeps everything for it.
  const cut = holes.length > 0 ? null : trimPadding(out, formats, findings);
  if (cut) {
    out = out.subarray(0, cut.at);
    fields.cut = { at: cut.at, dropped: cut.dropped, reason: cut.reason };
    findings.push(cut.finding);
  }
  const layer: Layer = {
    format: codec,
    offset: ctx.offset,
    size: bytes.length,
    summary: `${codec}: ${r.consumed} -> ${r.bytes.length} bytes${r.checked.length ? ` (${r.checked.join(", ")} verified)` : ""}${cut ? `, cut to ${cut.at}` : ""}`,
    fields,
    findings,
    payload: { bytes: out, offset: -1, ...(holes.length > 0 ? { holes } : {}) },
  };
  const scanned = scan ? { banner: scan.banner, ikconfig: scan.ikconfig, ...(holes.length > 0 ? { holes } : {}) } : {};
  return withHeader(layer, { codec, decoded: r.bytes, complete: true, consumed: r.consumed, trim: cut, decodedBytes, ...scanned });
}

/** One codec format module (id = the codec id), with the given options. */
export function createCompressedFormat(codec: Codec, options: CompressedFormatOptions = {}): FormatModule<DecodedStream> {
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
 * output cap, the probe table for the hooks outside `inspect`). The
 * library's default instances, bound to its default table, are
 * `compressedFormats` and `gzipFormat` … `lzmaFormat` in
 * `src/inspect/registry.ts`.
 */
export function createCompressedFormats(options: CompressedFormatOptions = {}): FormatModule<DecodedStream>[] {
  const order: Codec[] = ["gzip", "zstd", "xz", "lz4", "bzip2", "lzo", "lzma"];
  if (order.length !== CODECS.length) throw new Error("codec list out of date");
  return order.map((c) => createCompressedFormat(c, options));
}
