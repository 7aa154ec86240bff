/**
 * A kernel's identity: its release (`uname -r`), full version string,
 * `linux_banner`, GNU build-id and embedded configuration, gathered from an
 * image's layers.
 *
 * Sources, cheapest first:
 * - the version string the container header points at (bzImage
 *   `kernel_version`, "a pointer to a NUL-terminated human-readable kernel
 *   version number string", and the s390 parmarea's `kernel_version`);
 * - the ELF layer's notes (NT_GNU_BUILD_ID; LINUX_ELFNOTE_BUILD_SALT, which
 *   holds the release);
 * - the decoded kernel's bytes: `linux_banner` and IKCONFIG.
 *
 * Decoding is bounded and, by default, stops as soon as the ELF notes are
 * decoded (see {@link IdentityOptions.depth}): how far is what the decoded
 * format's `inspectionPrefix` hook says, as for a codec layer in "peek"
 * mode. Bytes a codec layer already decoded are reused, never decoded again.
 *
 * @module
 */

import { decompress, type CodecProviders } from "../codecs/index.js";
import type { Codec } from "../codecs/types.js";
import { PEEK_BYTES, decodedStream } from "../formats/compressed/format.js";
import { isElf, parseElf } from "../formats/elf/parse.js";
import { isKimageError } from "../core/errors.js";
import { FORMATS, inspect, type InspectResult } from "./registry.js";
import { hookedFormat } from "../format/table.js";
import type { FormatModule, Layer, ProgressCallback } from "../format/types.js";
import { findBanner, findIkconfig, parseKconfig } from "../format/banner.js";

export { findBanner, findIkconfig, parseKconfig, indexOfBytes, type Banner } from "../format/banner.js";
export { rawFormat, type RawImage } from "../formats/raw/format.js";

/** Where each part of a {@link KernelIdentity} came from. */
export interface IdentitySources {
  /** "bzimage", "s390-image", … (a header string), "banner", "elf-note" (build salt), or null. */
  version: string | null;
  /** "elf-note" or null. */
  buildId: string | null;
  /** "ikconfig" or null. */
  config: string | null;
}

/** What {@link kernelIdentity} finds. Every part is null when absent. */
export interface KernelIdentity {
  /** The release, as `uname -r` prints it, e.g. "6.1.0-50-amd64". */
  version: string | null;
  /** The full version text, e.g. "6.1.0-50-amd64 (debian-kernel@…) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)". */
  versionString: string | null;
  /** The `linux_banner` line ("Linux version …"), when the decoded kernel was searched and holds it. */
  banner: string | null;
  /** The NT_GNU_BUILD_ID note as lowercase hex. */
  buildId: string | null;
  /** The embedded configuration (CONFIG_IKCONFIG=y), `{ CONFIG_X: "y", … }`. */
  config: Record<string, string> | null;
  sources: IdentitySources;
  /** How many decoded bytes were searched (0 when nothing was decoded or available). */
  searched: number;
}

/** Options of {@link kernelIdentity}. */
export interface IdentityOptions {
  /** The probe table used when given bytes, and whose hooks say how far to decode (default: the library's). */
  formats?: readonly FormatModule[];
  /**
   * How far to decode a compressed kernel:
   * - "headers": never; use the header strings and the bytes the layers already hold;
   * - "notes" (default): an ELF kernel up to its last PT_NOTE (build-id; the
   *   banner when it precedes the notes, as in x86 vmlinux); a non-ELF kernel
   *   (e.g. the raw arm Image) fully;
   * - "full": the whole kernel (needed to find IKCONFIG anywhere).
   */
  depth?: "headers" | "notes" | "full";
  /** Most bytes ever decoded (default 256 MiB). */
  maxDecode?: number;
  /** The outermost bytes, when passing layers of an uncompressed kernel (e.g. a ppc64el vmlinux). */
  bytes?: Uint8Array;
  /** Codec fast paths, passed to the dispatcher. */
  providers?: CodecProviders;
  /** Most decompressed IKCONFIG bytes (default 16 MiB). */
  maxConfig?: number;
  /**
   * Progress of decoding, `{ phase: "decode xz", done, total }` (`done`:
   * compressed bytes consumed, `total`: the compressed size), at most about
   * every MiB and once when a step ends; passed on to `inspect` when given
   * bytes. See {@link InspectOptions.onProgress}.
   */
  onProgress?: ProgressCallback;
}

const DEFAULT_MAX_DECODE = 256 * 1024 * 1024;

/** The bytes of the kernel proper, decoded as far as needed. */
interface Inner {
  bytes: Uint8Array;
  /** Full size when known (a prefix otherwise). */
  size: number | null;
  /**
   * Ranges of `bytes` a "scan" decode did not keep (zeros). Searching them
   * would find nothing and touch every page of a buffer the size of the
   * kernel; the scan already searched the whole stream on its way through.
   */
  holes?: readonly (readonly [number, number])[];
}

function str(v: unknown): string | null {
  return typeof v === "string" && v.length > 0 ? v : null;
}

/**
 * The identity of a kernel image, from its bytes or from layers already
 * produced by `inspect`.
 *
 * @throws KimageError only from `inspect` on bytes no format recognises;
 *   decoding problems leave the affected parts null.
 */
export async function kernelIdentity(input: Uint8Array | readonly Layer[] | InspectResult, options: IdentityOptions = {}): Promise<KernelIdentity> {
  const depth = options.depth ?? "notes";
  const maxDecode = Math.max(0, options.maxDecode ?? DEFAULT_MAX_DECODE);
  let outer: Uint8Array | undefined = options.bytes;
  let layers: readonly Layer[];
  if (input instanceof Uint8Array) {
    outer = input;
    layers = (await inspect(input, { ...(options.formats ? { formats: options.formats } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) })).layers;
  } else if ("layers" in input) {
    layers = input.layers;
    // InspectResult.inputs[0] is the outermost input (an uncompressed kernel's own bytes).
    const inputs = (input as { inputs?: readonly Uint8Array[] }).inputs;
    outer ??= inputs?.[0];
  } else {
    layers = input;
  }

  const id: KernelIdentity = { version: null, versionString: null, banner: null, buildId: null, config: null, sources: { version: null, buildId: null, config: null }, searched: 0 };

  // 1. Header strings.
  for (const l of layers) {
    const kv = str(l.fields.kernelVersion);
    if (kv) {
      id.versionString = kv;
      id.version = kv.split(" ")[0] ?? null;
      id.sources.version = l.format;
      break;
    }
  }
  // 2. An ELF layer's notes.
  let salt: string | null = null;
  for (const l of layers) {
    if (l.format !== "elf") continue;
    const b = str(l.fields.buildId);
    if (b && !id.buildId) {
      id.buildId = b;
      id.sources.buildId = "elf-note";
    }
    salt ??= str(l.fields.buildSalt);
  }

  // 3. The kernel's own bytes.
  const inner = await innerBytes(layers, outer, depth, maxDecode, options.providers, id.buildId === null, options.formats ?? FORMATS, options.onProgress);
  if (inner) {
    id.searched = inner.bytes.length;
    if (!id.buildId && isElf(inner.bytes)) {
      try {
        const elf = parseElf(inner.bytes, { fileSize: Math.max(inner.size ?? 0, inner.bytes.length), ...(inner.holes ? { holes: inner.holes } : {}) });
        if (elf.buildId) {
          id.buildId = elf.buildId;
          id.sources.buildId = "elf-note";
        }
        salt ??= elf.buildSalt;
      } catch (e) {
        if (!isKimageError(e)) throw e;
      }
    }
    // At "headers" depth the decoded bytes are searched only for what the headers did not say
    // (the banner when no header names the release); IKCONFIG needs "notes" or "full".
    const searchBanner = depth !== "headers" || !id.version;
    let banner: { text: string; release: string } | null = searchBanner && !inner.holes ? findBanner(inner.bytes) : null;
    // A codec layer in "peek" or "scan" mode may have found it on the way through its stream (and kept only part of it).
    if (!banner && searchBanner) {
      for (const l of layers) banner ??= decodedStream(l)?.banner ?? null;
    }
    if (banner) {
      id.banner = banner.text;
      if (!id.version) {
        id.version = banner.release;
        id.versionString = banner.text.slice("Linux version ".length);
        id.sources.version = "banner";
      }
    }
    const ik = depth !== "headers" && !inner.holes ? findIkconfig(inner.bytes) : null;
    let ikBytes = ik ? inner.bytes.subarray(ik.start, ik.end) : null;
    if (!ikBytes && depth !== "headers") {
      for (const l of layers) ikBytes ??= decodedStream(l)?.ikconfig ?? null;
    }
    if (ikBytes) {
      try {
        const r = await decompress(ikBytes, "gzip", { maxOutput: options.maxConfig ?? 16 * 1024 * 1024, ...(options.providers ? { providers: options.providers } : {}) });
        id.config = parseKconfig(new TextDecoder("latin1").decode(r.bytes));
        id.sources.config = "ikconfig";
      } catch (e) {
        if (!isKimageError(e)) throw e;
      }
    }
  }
  if (!id.version && salt) {
    id.version = salt;
    id.sources.version = "elf-note";
  }
  return id;
}

/**
 * The decoded kernel: the deepest compressed payload (a layer payload with
 * a `codec`) decoded as far as `depth` asks, reusing what the codec layer
 * after it decoded (its payload, or its whole {@link DecodedStream} when it
 * decoded the stream to its end) when that is already enough; or, for an
 * uncompressed kernel, the deepest payload or the outermost bytes. How far
 * "notes" goes is the `inspectionPrefix` hook of the format of `formats`
 * that accepts the decoded start.
 */
async function innerBytes(
  layers: readonly Layer[],
  outer: Uint8Array | undefined,
  depth: "headers" | "notes" | "full",
  maxDecode: number,
  providers: CodecProviders | undefined,
  wantNotes: boolean,
  formats: readonly FormatModule[],
  onProgress: ProgressCallback | undefined,
): Promise<Inner | null> {
  let ci = -1;
  for (let i = layers.length - 1; i >= 0; i--) {
    if (layers[i]?.payload?.codec) {
      ci = i;
      break;
    }
  }
  if (ci < 0) {
    for (let i = layers.length - 1; i >= 0; i--) {
      const p = layers[i]?.payload;
      if (p) return { bytes: p.bytes, size: p.bytes.length };
    }
    return outer ? { bytes: outer, size: outer.length } : null;
  }
  const cp = (layers[ci] as Layer).payload as NonNullable<Layer["payload"]>;
  const codec = cp.codec as Codec;
  const full = cp.expectedSize ?? null;
  const already = layers[ci + 1]?.payload?.bytes ?? null;
  // The codec layer's whole output (before any trim), when it decoded the stream to its end.
  const stream = decodedStream(layers[ci + 1]);
  const holes = stream?.holes && stream.holes.length > 0 ? stream.holes : undefined;
  const have: Inner | null = already ? { bytes: already, size: full, ...(holes ? { holes } : {}) } : null;
  const whole = stream?.complete ? stream.decoded : null;
  if (depth === "headers" || maxDecode === 0) return have;

  const decode = async (n: number): Promise<Uint8Array | null> => {
    const max = Math.min(n, maxDecode, full ?? Number.MAX_SAFE_INTEGER);
    if (have && have.bytes.length >= max) return have.bytes;
    // Decoding the stream again up to `max` would give back exactly what the codec layer decoded.
    if (whole && whole.length <= max) return whole;
    try {
      const opts = { maxOutput: max, partial: true, base: cp.offset < 0 ? 0 : cp.offset, ...(providers ? { providers } : {}) };
      onProgress?.({ phase: `decode ${codec}`, done: 0, total: cp.bytes.length });
      const r = await decompress(cp.bytes, codec, opts);
      onProgress?.({ phase: `decode ${codec}`, done: r.complete ? r.consumed : cp.bytes.length, total: cp.bytes.length });
      return r.bytes;
    } catch (e) {
      if (!isKimageError(e)) throw e;
      return have?.bytes ?? null;
    }
  };
  const everything = full ?? maxDecode;
  if (depth === "full") {
    const b = await decode(everything);
    return b ? { bytes: b, size: full, ...(holes && (b === whole || b === already) ? { holes } : {}) } : null;
  }
  // depth "notes": as far as the decoded format's inspectionPrefix hook says (an ELF: through its notes); anything else fully.
  let b = await decode(PEEK_BYTES);
  if (!b) return have;
  const hooked = hookedFormat(b, formats, "inspectionPrefix");
  const withHoles = (x: Uint8Array): Inner => ({ bytes: x, size: full, ...(holes && (x === whole || x === already) ? { holes } : {}) });
  if (!hooked) {
    b = await decode(everything);
    return b ? withHoles(b) : null;
  }
  if (!wantNotes && have) return have;
  let need = hooked.inspectionPrefix(b);
  if (need !== null && need > b.length) {
    b = (await decode(need)) ?? b;
    need = hooked.inspectionPrefix(b);
  }
  if (need !== null && need > b.length) b = (await decode(need)) ?? b;
  return withHoles(b);
}
