/**
 * kimage's own purgatory: the blobs built from `purgatory/` (freestanding C
 * and assembly, `npm run purgatory`), the layout of their parameter block,
 * and the patching a plan does before a loader hands the blob to
 * `kexec_load(2)`.
 *
 * The kernel patches its own purgatory by symbol name
 * (kernel/kexec_file.c `kexec_purgatory_get_set_symbol(image,
 * "purgatory_sha_regions", …)`, `"purgatory_sha256_digest"`); kimage's blob
 * instead carries one fixed struct at offset 0 (purgatory/common/purgatory.h,
 * `struct kimage_purgatory_header`, every field in the blob's CPU byte order:
 * little-endian for x86_64, arm64 and riscv64, big-endian for s390x; the
 * version field, 1, tells a reader which, as ELF's `EI_DATA` does):
 *
 * | offset | field | written by |
 * |---|---|---|
 * | 0x00 | `magic[8]` = "KIMGPURG" | build |
 * | 0x08 | `u32 version` = 1 | build |
 * | 0x0c | `u32 header_size` = 0x170 | build |
 * | 0x10 | `u64 entry_offset`: where the CPU enters, from the first byte | build |
 * | 0x18 | `u64 image_memsz`: bytes needed in memory (code, data, stack) | build |
 * | 0x20 | `u8 sha256[32]`: `purgatory_sha256_digest` | plan |
 * | 0x40 | `u64 entry`: x86_64 rip, arm64/riscv64 pc, s390x the kernel's PSW address, ppc64 the kernel's first instruction | plan |
 * | 0x48 | `u64 arg0`: x86_64 rsi (boot_params), arm64 x0 (DTB), riscv64 a0 (hart id), ppc64 r3 (DT) | plan |
 * | 0x50 | `u64 arg1`: riscv64 a1 (DTB), ppc64 r4 (kernel base), else 0 | plan |
 * | 0x58 | `u32 console_kind`: 0 none, 1 x86 I/O-port 16550, 2 PL011, 3 ns16550 MMIO, 4 s390 SCLP, 5 pseries hvterm | plan |
 * | 0x5c | `u32 console_shift`: ns16550 reg-shift | plan |
 * | 0x60 | `u64 console_addr`: port, MMIO base or vterm number | plan |
 * | 0x68 | `u32 nr_regions` (at most 16, KEXEC_SEGMENT_MAX) | plan |
 * | 0x6c | `u32 reserved` = 0 | — |
 * | 0x70 | `{u64 start; u64 len;} regions[16]`: `purgatory_sha_regions` | plan |
 *
 * What the blob does: SHA-256 over `regions[0..nr_regions)` in order (the
 * order of {@link planDigest}: each segment's data then its zero fill); on a
 * mismatch it writes `kimage purgatory: digest mismatch` to the console (if
 * `console_kind` is not 0) and stops forever, as the kernel's purgatory
 * "loop[s] forever"; otherwise it sets the entry registers and jumps.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import { PLAN_LAYER } from "../core/allocator.js";
import type { DigestRegion } from "../core/digest.js";
import { PURGATORY_BLOBS_BASE64 } from "./purgatory-blobs.js";

/** The architectures kimage builds a purgatory for. */
export type PurgatoryArch = keyof typeof PURGATORY_BLOBS_BASE64;

/** The architectures with a purgatory blob, in build order. */
export const PURGATORY_ARCHES: readonly PurgatoryArch[] = ["x86_64", "arm64", "riscv64", "s390x", "ppc64"];

/** `magic[8]` of the parameter block. */
export const PURGATORY_MAGIC = "KIMGPURG";
/** The layout version this module reads and writes. */
export const PURGATORY_VERSION = 1;
/** `sizeof(struct kimage_purgatory_header)`. */
export const PURGATORY_HEADER_SIZE = 0x170;
/** `KIMAGE_PURGATORY_MAX_REGIONS`: include/linux/kexec.h `#define KEXEC_SEGMENT_MAX 16`. */
export const PURGATORY_MAX_REGIONS = 16;

/** Field offsets of `struct kimage_purgatory_header`. */
export const PURGATORY_FIELDS = {
  magic: 0x00,
  version: 0x08,
  header_size: 0x0c,
  entry_offset: 0x10,
  image_memsz: 0x18,
  sha256: 0x20,
  entry: 0x40,
  arg0: 0x48,
  arg1: 0x50,
  console_kind: 0x58,
  console_shift: 0x5c,
  console_addr: 0x60,
  nr_regions: 0x68,
  regions: 0x70,
} as const;

/** The console kinds of `console_kind`. */
export const PURGATORY_CONSOLE_KINDS = { none: 0, "x86-pio": 1, pl011: 2, ns16550: 3, sclp: 4, hvterm: 5 } as const;

/** Where the purgatory writes its mismatch line. */
export interface PurgatoryConsole {
  /**
   * `x86-pio`: a 16550 on I/O ports (COM1 0x3f8); `pl011`: ARM PL011 MMIO;
   * `ns16550`: ns16550 MMIO, 8-bit accesses; `sclp`: the s390 SCLP's ASCII
   * (VT220) console, one Write Event Data service call per line (no address: 0);
   * `hvterm`: the pseries hypervisor's virtual terminal (hcall H_PUT_TERM_CHAR), `addr` its terminal number.
   */
  kind: Exclude<keyof typeof PURGATORY_CONSOLE_KINDS, "none">;
  /** The I/O port, MMIO base or (hvterm) terminal number. */
  addr: bigint;
  /** ns16550 `reg-shift` (registers `1 << shift` bytes apart); default 0. */
  shift?: number;
}

/** The line the purgatory writes before it stops (followed by CR LF). */
export const PURGATORY_MISMATCH_LINE = "kimage purgatory: digest mismatch";

/** The build-time fields of a blob's parameter block. */
export interface PurgatoryHeader {
  /** The byte order of every field: true for x86_64, arm64, riscv64; false for s390x. */
  littleEndian: boolean;
  version: number;
  header_size: number;
  entry_offset: bigint;
  image_memsz: bigint;
}

/** What a plan writes into the parameter block. */
export interface PurgatoryParameters {
  /** `purgatory_sha256_digest`: 32 bytes. */
  sha256: Uint8Array;
  /** `purgatory_sha_regions`, in order: at most 16. */
  regions: readonly Pick<DigestRegion, "start" | "len">[];
  /** The kernel entry the purgatory jumps to. */
  entry: bigint;
  /** x86_64 rsi, arm64 x0, riscv64 a0, ppc64 r3; 0 on s390x (its kernel takes no register). */
  arg0: bigint;
  /** riscv64 a1, ppc64 r4; 0 elsewhere. */
  arg1: bigint;
  /** Where to write the mismatch line; none when absent. */
  console?: PurgatoryConsole;
}

function fail(code: "truncated" | "bad-argument" | "unsupported", message: string, offset = -1): never {
  throw new KimageError(code, message, { layer: PLAN_LAYER, offset });
}

function decodeBase64(s: string): Uint8Array {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const clean = s.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (const ch of clean) {
    const v = alphabet.indexOf(ch);
    if (v < 0) fail("bad-argument", `purgatory blob: invalid base64 character ${JSON.stringify(ch)}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

const decoded = new Map<PurgatoryArch, Uint8Array>();

/**
 * A fresh copy of the purgatory blob for `arch`, as built from `purgatory/`
 * (the parameter block not yet written).
 *
 * @throws KimageError `unsupported` for an architecture without a blob.
 */
export function purgatoryBlob(arch: string): Uint8Array {
  if (!(PURGATORY_ARCHES as readonly string[]).includes(arch)) fail("unsupported", `kimage has no purgatory for ${arch} (it has ${PURGATORY_ARCHES.join(", ")})`);
  const a = arch as PurgatoryArch;
  let b = decoded.get(a);
  if (!b) {
    b = decodeBase64(PURGATORY_BLOBS_BASE64[a]);
    decoded.set(a, b);
  }
  return b.slice();
}

/**
 * Reads the build-time fields of a blob's parameter block, checking what a
 * loader relies on: the magic, the version (1, read in either byte order:
 * the order it reads as 1 in is the blob's), the header size, an entry
 * offset inside the blob and past the header, an `image_memsz` covering the
 * blob.
 *
 * @throws KimageError `truncated` for a blob shorter than the header,
 *   `bad-argument` for a wrong magic or an inconsistent field (with its
 *   offset), `unsupported` for another version.
 */
export function parsePurgatoryHeader(blob: Uint8Array): PurgatoryHeader {
  if (blob.length < PURGATORY_HEADER_SIZE) fail("truncated", `purgatory blob: ${blob.length} bytes, the parameter block alone is ${PURGATORY_HEADER_SIZE}`, blob.length);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const magic = String.fromCharCode(...blob.subarray(0, 8));
  if (magic !== PURGATORY_MAGIC) fail("bad-argument", `purgatory blob: magic ${JSON.stringify(magic)} is not ${PURGATORY_MAGIC}`, 0);
  // header.S emits `.long 1` in the CPU's order: 01 00 00 00 little-endian, 00 00 00 01 big-endian.
  const le = dv.getUint32(PURGATORY_FIELDS.version, true) === PURGATORY_VERSION;
  const version = dv.getUint32(PURGATORY_FIELDS.version, le);
  if (version !== PURGATORY_VERSION) fail("unsupported", `purgatory blob: version ${hex(dv.getUint32(PURGATORY_FIELDS.version, true))} (little-endian) / ${hex(dv.getUint32(PURGATORY_FIELDS.version, false))} (big-endian): this kimage reads ${PURGATORY_VERSION}`, PURGATORY_FIELDS.version);
  const header_size = dv.getUint32(PURGATORY_FIELDS.header_size, le);
  if (header_size !== PURGATORY_HEADER_SIZE) fail("bad-argument", `purgatory blob: header_size ${hex(header_size)} is not ${hex(PURGATORY_HEADER_SIZE)}`, PURGATORY_FIELDS.header_size);
  const entry_offset = dv.getBigUint64(PURGATORY_FIELDS.entry_offset, le);
  if (entry_offset < BigInt(header_size) || entry_offset >= BigInt(blob.length)) {
    fail("bad-argument", `purgatory blob: entry_offset ${hex(entry_offset)} is outside [header_size, ${hex(blob.length)})`, PURGATORY_FIELDS.entry_offset);
  }
  const image_memsz = dv.getBigUint64(PURGATORY_FIELDS.image_memsz, le);
  if (image_memsz < BigInt(blob.length) || image_memsz > 1n << 24n) {
    fail("bad-argument", `purgatory blob: image_memsz ${hex(image_memsz)} is below the blob's ${hex(blob.length)} bytes or above 16 MiB`, PURGATORY_FIELDS.image_memsz);
  }
  return { littleEndian: le, version, header_size, entry_offset, image_memsz };
}

/**
 * A copy of `blob` with the plan's parameters written into its parameter
 * block (the `kexec_purgatory_get_set_symbol` step).
 *
 * @throws KimageError `bad-argument` for a digest that is not 32 bytes, more
 *   than 16 regions, a value above 2^64 − 1 or a console shift above 31; the
 *   errors of {@link parsePurgatoryHeader}.
 */
export function patchPurgatory(blob: Uint8Array, p: PurgatoryParameters): Uint8Array {
  const le = parsePurgatoryHeader(blob).littleEndian;
  if (p.sha256.length !== 32) fail("bad-argument", `purgatory: the digest is ${p.sha256.length} bytes, not 32`);
  if (p.regions.length > PURGATORY_MAX_REGIONS) fail("bad-argument", `purgatory: ${p.regions.length} regions exceed ${PURGATORY_MAX_REGIONS} (KEXEC_SEGMENT_MAX)`);
  const shift = p.console?.shift ?? 0;
  if (!Number.isInteger(shift) || shift < 0 || shift > 31) fail("bad-argument", `purgatory: console shift ${shift} is not in 0..31`);
  const out = blob.slice();
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const u64 = (off: number, v: bigint, what: string) => {
    if (v < 0n || v >= 1n << 64n) fail("bad-argument", `purgatory: ${what} ${v} is not a 64-bit address`);
    dv.setBigUint64(off, v, le);
  };
  out.set(p.sha256, PURGATORY_FIELDS.sha256);
  u64(PURGATORY_FIELDS.entry, p.entry, "entry");
  u64(PURGATORY_FIELDS.arg0, p.arg0, "arg0");
  u64(PURGATORY_FIELDS.arg1, p.arg1, "arg1");
  dv.setUint32(PURGATORY_FIELDS.console_kind, PURGATORY_CONSOLE_KINDS[p.console?.kind ?? "none"], le);
  dv.setUint32(PURGATORY_FIELDS.console_shift, shift, le);
  u64(PURGATORY_FIELDS.console_addr, p.console?.addr ?? 0n, "console address");
  dv.setUint32(PURGATORY_FIELDS.nr_regions, p.regions.length, le);
  out.fill(0, PURGATORY_FIELDS.regions, PURGATORY_HEADER_SIZE);
  p.regions.forEach((r, i) => {
    u64(PURGATORY_FIELDS.regions + 16 * i, r.start, `region ${i} start`);
    u64(PURGATORY_FIELDS.regions + 16 * i + 8, r.len, `region ${i} len`);
  });
  return out;
}

/** The parameters read back from a patched blob (what the purgatory will use). */
export function readPurgatoryParameters(blob: Uint8Array): PurgatoryParameters {
  const le = parsePurgatoryHeader(blob).littleEndian;
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const n = dv.getUint32(PURGATORY_FIELDS.nr_regions, le);
  if (n > PURGATORY_MAX_REGIONS) fail("bad-argument", `purgatory blob: nr_regions ${n} exceeds ${PURGATORY_MAX_REGIONS}`, PURGATORY_FIELDS.nr_regions);
  const kind = dv.getUint32(PURGATORY_FIELDS.console_kind, le);
  const kindName = (Object.keys(PURGATORY_CONSOLE_KINDS) as (keyof typeof PURGATORY_CONSOLE_KINDS)[]).find((k) => PURGATORY_CONSOLE_KINDS[k] === kind);
  if (kindName === undefined) fail("bad-argument", `purgatory blob: console_kind ${kind} is unknown`, PURGATORY_FIELDS.console_kind);
  const regions = Array.from({ length: n }, (_, i) => ({
    start: dv.getBigUint64(PURGATORY_FIELDS.regions + 16 * i, le),
    len: dv.getBigUint64(PURGATORY_FIELDS.regions + 16 * i + 8, le),
  }));
  return {
    sha256: blob.slice(PURGATORY_FIELDS.sha256, PURGATORY_FIELDS.sha256 + 32),
    regions,
    entry: dv.getBigUint64(PURGATORY_FIELDS.entry, le),
    arg0: dv.getBigUint64(PURGATORY_FIELDS.arg0, le),
    arg1: dv.getBigUint64(PURGATORY_FIELDS.arg1, le),
    ...(kindName !== "none"
      ? { console: { kind: kindName, addr: dv.getBigUint64(PURGATORY_FIELDS.console_addr, le), shift: dv.getUint32(PURGATORY_FIELDS.console_shift, le) } }
      : {}),
  };
}
