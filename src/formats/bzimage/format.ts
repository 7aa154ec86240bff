/**
 * The bzImage entry of the probe table: the x86 boot protocol's setup header
 * (through 2.15), kernel_info, the kexec bzImage64 probe verdict, the boot
 * image CRC-32, and the compressed payload handed to the codec layer.
 *
 * A file that fails the kexec checks is still parsed and reported, with
 * `kexecLoadable: false` and the kernel's message(s) as findings.
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import { crc32 } from "../../codecs/crc32.js";
import { detectCodec } from "../../codecs/index.js";
import type { Codec } from "../../codecs/types.js";
import type { Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer, LayerPayload, ParseContext } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";
import {
  BZIMAGE_LAYER,
  HDRS_OFFSET,
  LOADFLAGS,
  SECTOR,
  SETUP_HEADER_FIELDS,
  XLOADFLAGS,
  XLF_KERNEL_64,
  bitNames,
  effectiveSetupSects,
  kexecBzImage64Checks,
  readKernelInfo,
  readSetupHeader,
  type KernelInfo,
  type KexecCheck,
  type SetupHeader,
} from "./header.js";

/** Longest kernel_version string read (the setup code is at most 32 KiB; real strings are ~120 bytes). */
const KERNEL_VERSION_MAX = 512;

/** Where the compressed payload sits and what its trailer says. */
export interface BzImagePayload {
  /** Absolute offset of the payload's first byte ((setup_sects + 1) * 512 + payload_offset). */
  offset: number;
  /** payload_length, including the 4-byte size trailer. */
  length: number;
  /** The compressed bytes (without the trailer). */
  compressed: Uint8Array;
  /** The le32 decompressed size stored in the last 4 bytes of the payload. */
  uncompressedSize: number | null;
  /** The codec named by the payload's magic number, or null. */
  codec: Codec | null;
}

/** A parsed bzImage. */
export interface BzImage {
  /** Absolute offset of the image in the outermost input. */
  base: number;
  /** The setup header; absent fields are null. */
  header: SetupHeader;
  /** "2.15", or "old" without "HdrS". */
  protocol: string;
  /** The string kernel_version points at, or null. */
  kernelVersion: string | null;
  /** Size of the real-mode part: (setup_sects + 1) * 512. */
  setupSize: number;
  /** kernel_info (protocol 2.15+), or null. */
  kernelInfo: KernelInfo | null;
  /** The failed `bzImage64_probe` checks, first one first; empty when kexec would accept it. */
  kexecErrors: KexecCheck[];
  /** The boot image CRC-32 (protocol 2.08+), or null when syssize does not describe a range in the file. */
  crc: { stored: number; computed: number; ok: boolean; end: number } | null;
  /** The payload (protocol 2.08+, payload_offset non-zero), or null. */
  payload: BzImagePayload | null;
  findings: Finding[];
}

/**
 * Parses a bzImage (or an older x86 boot image). Never throws for bad
 * header values: every problem is a finding. Only a buffer too short for the
 * boot sector (0x1f1 bytes) throws `truncated`.
 *
 * @param options.checkCrc compute the boot image CRC-32 over the whole image (default true; `inspect` skips it when peeking).
 */
export function parseBzImage(bytes: Uint8Array, base = 0, options: { checkCrc?: boolean } = {}): BzImage {
  const v = new ByteView(bytes, BZIMAGE_LAYER, base);
  v.need(0, 0x1f1 + 1, "boot sector and setup_sects");
  const header = readSetupHeader(v);
  const findings: Finding[] = [];
  const kexecErrors = kexecBzImage64Checks(v);
  for (const c of kexecErrors) findings.push({ code: c.code, severity: "warning", offset: c.offset, message: `kexec bzImage64_probe: ${c.message}` });

  const version = header.version;
  const protocol = version === null ? "old" : `${version >> 8}.${(version & 0xff).toString().padStart(2, "0")}`;
  const sects = effectiveSetupSects(header);
  const setupSize = (sects + 1) * SECTOR;
  if (setupSize > v.length) {
    // kexec-bzimage64.c bzImage64_load: "if (kernel_len < kern16_size) { pr_err("bzImage truncated\n");"
    findings.push({ code: "bzimage-truncated", severity: "warning", offset: v.abs(0x1f1), message: `bzImage truncated: the setup (${setupSize} bytes) runs past the end of the file (${v.length})` });
  }

  // kernel_version: "contains a pointer to a NUL-terminated human-readable kernel version
  // number string, less 0x200 ... This value should be less than (0x200*setup_sects)."
  let kernelVersion: string | null = null;
  if (header.kernel_version) {
    const at = header.kernel_version + 0x200;
    if (header.kernel_version >= 0x200 * sects) {
      findings.push({ code: "bzimage-kernel-version-outside-setup", severity: "info", offset: v.abs(0x20e), message: `kernel_version 0x${header.kernel_version.toString(16)} is not less than 0x200 * setup_sects` });
    }
    if (v.has(at, 1)) kernelVersion = v.cstring(at, Math.min(KERNEL_VERSION_MAX, Math.max(0, Math.min(setupSize, v.length) - at)), "kernel_version string");
  }

  // kernel_info: "the offset from the beginning of the kernel image to the kernel_info"
  let kernelInfo: KernelInfo | null = null;
  if (header.kernel_info_offset !== null && header.kernel_info_offset !== 0) {
    const ki = readKernelInfo(v, setupSize + header.kernel_info_offset);
    if (typeof ki === "string") findings.push({ code: "bzimage-bad-kernel-info", severity: "warning", offset: v.abs(0x268), message: ki });
    else kernelInfo = ki;
  }

  // "From boot protocol version 2.08 onwards the CRC-32 is calculated over the entire file
  // ... The checksum is appended to the file; therefore the CRC of the file up to the limit
  // specified in the syssize field of the header is always 0." (build.c stores the CRC
  // without the final inversion, so the stored value is ~crc32 of what precedes it.)
  let crc: BzImage["crc"] = null;
  if ((options.checkCrc ?? true) && version !== null && version >= 0x208 && header.syssize !== null) {
    const end = setupSize + header.syssize * 16;
    if (end >= setupSize + 4 && end <= v.length) {
      const stored = v.u32le(end - 4, "CRC-32");
      const computed = ~crc32(bytes.subarray(0, end - 4)) >>> 0;
      crc = { stored, computed, ok: stored === computed, end };
      if (!crc.ok) {
        findings.push({ code: "bzimage-crc-mismatch", severity: "info", offset: v.abs(end - 4), message: `the boot image CRC-32 ${hex(stored)} does not match ${hex(computed)} (signing tools rewrite the PE header after the build computed it)` });
      }
    } else {
      findings.push({ code: "bzimage-syssize-outside-file", severity: "info", offset: v.abs(0x1f4), message: `syssize * 16 (${header.syssize * 16}) after the setup runs past the end of the file` });
    }
  }

  // payload_offset: "If non-zero then this field contains the offset from the beginning of
  // the protected-mode code to the payload." The payload ends in a le32 size trailer
  // (the build's size_append), included in payload_length.
  let payload: BzImagePayload | null = null;
  if (header.payload_offset && header.payload_length !== null) {
    const start = setupSize + header.payload_offset;
    const length = header.payload_length;
    if (!v.has(start, length) || length < 4) {
      findings.push({ code: "bzimage-payload-out-of-bounds", severity: "warning", offset: v.abs(0x248), message: `payload_offset 0x${header.payload_offset.toString(16)} / payload_length ${length} run outside the file (${v.length} bytes)` });
    } else {
      const compressed = v.slice(start, length - 4, "payload");
      const uncompressedSize = v.u32le(start + length - 4, "payload size trailer");
      // boot.rst: "The format of both the compressed and uncompressed data should be
      // determined using the standard magic numbers": the dispatcher validates the whole header.
      payload = { offset: v.abs(start), length, compressed, uncompressedSize, codec: detectCodec(compressed) };
      if (payload.codec === null) {
        findings.push({ code: "bzimage-payload-codec-unknown", severity: "info", offset: v.abs(start), message: "the payload starts with no valid compression header" });
      }
    }
  }

  return { base, header, protocol, kernelVersion, setupSize, kernelInfo, kexecErrors, crc, payload, findings };
}

function json(v: number | bigint | string | null): JsonValue {
  return typeof v === "bigint" ? hex(v) : v;
}

/** The JSON-ready layer of a parsed bzImage; its typed header is `bz` (the setup header is `bz.header`). */
export function bzImageLayer(bz: BzImage, size: number): Layer<BzImage> {
  const h = bz.header;
  const fields: { [key: string]: JsonValue } = { protocol: bz.protocol };
  for (const [name] of SETUP_HEADER_FIELDS) fields[name] = json(h[name]);
  fields.loadflagsNames = h.loadflags === null ? null : bitNames(h.loadflags, LOADFLAGS);
  fields.xloadflagsNames = h.xloadflags === null ? null : bitNames(h.xloadflags, XLOADFLAGS);
  fields.kernelVersion = bz.kernelVersion;
  fields.setupSize = bz.setupSize;
  fields.kernel_info = bz.kernelInfo ? { ...bz.kernelInfo } : null;
  fields.kexecLoadable = bz.kexecErrors.length === 0;
  fields.kexecErrors = bz.kexecErrors.map((c) => ({ code: c.code, message: c.message, offset: c.offset }));
  fields.crc32 = bz.crc ? { stored: hex(bz.crc.stored), computed: hex(bz.crc.computed), ok: bz.crc.ok, end: bz.crc.end } : null;
  fields.payload = bz.payload
    ? { offset: bz.payload.offset, length: bz.payload.length, compressedSize: bz.payload.compressed.length, uncompressedSize: bz.payload.uncompressedSize, codec: bz.payload.codec }
    : null;

  const bits = h.xloadflags !== null && h.xloadflags & XLF_KERNEL_64 ? "64-bit" : "32-bit";
  const parts = [`bzImage protocol ${bz.protocol}`, bits];
  if (bz.kernelVersion) parts.push(`kernel ${bz.kernelVersion.split(" ")[0] ?? ""}`);
  if (bz.payload) parts.push(`${bz.payload.codec ?? "unknown"} payload ${bz.payload.compressed.length} -> ${bz.payload.uncompressedSize ?? "?"} bytes`);
  if (bz.kexecErrors.length) parts.push(`not kexec-loadable: ${bz.kexecErrors[0]?.message ?? ""}`);

  const layer: Layer = { format: BZIMAGE_LAYER, offset: bz.base, size, summary: parts.join(", "), fields, findings: bz.findings };
  if (bz.payload) {
    const p: LayerPayload = { bytes: bz.payload.compressed, offset: bz.payload.offset };
    if (bz.payload.uncompressedSize !== null) p.expectedSize = bz.payload.uncompressedSize;
    if (bz.payload.codec !== null) p.codec = bz.payload.codec;
    layer.payload = p;
  }
  return withHeader(layer, bz);
}

/**
 * The bzImage format: probes "HdrS" at 0x202 (boot.rst: "If the "HdrS"
 * (0x53726448) magic number is not found at offset 0x202, the boot protocol
 * version is "old""). Its payload is the compressed kernel, with the trailer's
 * size as `expectedSize` and the codec its magic names. Its layers carry the
 * {@link BzImage}.
 */
export const bzImageFormat: FormatModule<BzImage> = {
  id: BZIMAGE_LAYER,
  description: "x86 bzImage (Linux/x86 boot protocol setup header, kernel_info, compressed payload)",
  probe(bytes: Uint8Array): boolean {
    return bytes.length >= HDRS_OFFSET + 4 && bytes[0x202] === 0x48 && bytes[0x203] === 0x64 && bytes[0x204] === 0x72 && bytes[0x205] === 0x53;
  },
  parse(bytes: Uint8Array, ctx: ParseContext): Layer<BzImage> {
    // The boot image CRC (informational: signing rewrites the header after it) is read at full depth only.
    const layer = bzImageLayer(parseBzImage(bytes, Math.max(0, ctx.offset), { checkCrc: ctx.decode !== "peek" }), bytes.length);
    if (ctx.offset < 0) {
      // Decoded data: offsets are not positions in the outermost input.
      layer.offset = -1;
      if (layer.payload) layer.payload.offset = -1;
    }
    return layer;
  },
};
