/**
 * Helpers for `test/pe-builder.test.ts`: locating and running peer tools
 * (binutils `objdump`, `osslsigncode`, `pesign`, `openssl`), parsing their
 * output, and an independent reference Authenticode digest computed from a
 * {@link BuiltPe}'s own layout description.
 *
 * @packageDocumentation
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

import { alignUp, field, type BuiltPe } from "./pe-builder.js";

/**
 * Absolute path of executable `name` found on `PATH` (or in /usr/bin,
 * /usr/sbin), or `undefined` when it is not installed.
 */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/bin", "/usr/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Result of {@link runTool}. */
export interface ToolResult {
  /** Exit status (`null` when killed by a signal). */
  status: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Standard output followed by standard error. */
  all: string;
}

/** Run `tool` with `args` (no shell), with a 60 s timeout and the C locale. */
export function runTool(tool: string, args: readonly string[]): ToolResult {
  const r = spawnSync(tool, args, {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, LC_ALL: "C", LANG: "C" },
  });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

/** One row of `objdump -h` output. */
export interface ObjdumpSection {
  /** Section name. */
  name: string;
  /** Size column (for PE images bfd reports min(VirtualSize, SizeOfRawData) when VirtualSize is non-zero). */
  size: number;
  /** VMA column (ImageBase + VirtualAddress). */
  vma: bigint;
  /** File offset column (PointerToRawData). */
  fileOffset: number;
}

/** Parse the format name and section rows of `objdump -h` output. */
export function parseObjdumpHeaders(output: string): { format: string | undefined; sections: ObjdumpSection[] } {
  const format = /file format (\S+)/.exec(output)?.[1];
  const sections: ObjdumpSection[] = [];
  const row = /^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+2\*\*\d+\s*$/gim;
  for (const m of output.matchAll(row)) {
    const [, name, size, vma, , off] = m;
    if (name === undefined || size === undefined || vma === undefined || off === undefined) continue;
    sections.push({ name, size: parseInt(size, 16), vma: BigInt(`0x${vma}`), fileOffset: parseInt(off, 16) });
  }
  return { format, sections };
}

/**
 * Checksums printed by `osslsigncode verify`: either a single
 * `PE checksum : X` line (current equals calculated) or a
 * `Current PE checksum` / `Calculated PE checksum` pair.
 */
export function parseOsslChecksums(output: string): { current: number; calculated: number } | undefined {
  const cur = /Current PE checksum\s*:\s*([0-9A-Fa-f]+)/.exec(output)?.[1];
  const calc = /Calculated PE checksum\s*:\s*([0-9A-Fa-f]+)/.exec(output)?.[1];
  if (cur !== undefined && calc !== undefined) return { current: parseInt(cur, 16), calculated: parseInt(calc, 16) };
  const same = /PE checksum\s*:\s*([0-9A-Fa-f]+)/.exec(output)?.[1];
  if (same === undefined) return undefined;
  return { current: parseInt(same, 16), calculated: parseInt(same, 16) };
}

/** `Current message digest` and `Calculated message digest` from `osslsigncode verify` (lower-case hex). */
export function parseOsslDigests(output: string): { current: string; calculated: string } | undefined {
  const cur = /Current message digest\s*:\s*([0-9A-Fa-f]+)/.exec(output)?.[1];
  const calc = /Calculated message digest\s*:\s*([0-9A-Fa-f]+)/.exec(output)?.[1];
  if (cur === undefined || calc === undefined) return undefined;
  return { current: cur.toLowerCase(), calculated: calc.toLowerCase() };
}

/** The `hash: X` line of `pesign -h -P` (lower-case hex). */
export function parsePesignHash(output: string): string | undefined {
  return /^hash:\s*([0-9a-fA-F]+)\s*$/m.exec(output)?.[1]?.toLowerCase();
}

/** How {@link referenceAuthenticodeDigest} walks the file. */
export interface DigestStyle {
  /**
   * `"sections"`: as the PE/COFF specification describes it (and pesign
   * does): headers, then each section's raw data in PointerToRawData order,
   * then the bytes from SUM_OF_BYTES_HASHED to the certificate table.
   * `"linear"`: the whole file front to back (as osslsigncode does), which
   * differs from `"sections"` only when sections are not contiguous.
   */
  mode: "sections" | "linear";
  /** Hash zero bytes up to a multiple of 8 after the hashed region (pesign; osslsigncode pads the file when signing). */
  padTo8: boolean;
}

/**
 * SHA-256 Authenticode-style digest of `built.bytes`, using only the
 * builder's layout description (field offsets, section placement,
 * `sumOfBytesHashed`, `hashedEnd`): skips `CheckSum`, data directory 4 and
 * the certificate table.
 */
export function referenceAuthenticodeDigest(built: BuiltPe, style: DigestStyle): string {
  const b = built.bytes;
  const h = createHash("sha256");
  const checksum = field(built, "CheckSum").offset;
  const dir4 = field(built, "DataDirectory[4].VirtualAddress").offset;
  h.update(b.subarray(0, checksum));
  h.update(b.subarray(checksum + 4, dir4));
  let hashedUpTo: number;
  if (style.mode === "linear") {
    h.update(b.subarray(dir4 + 8, built.hashedEnd));
    hashedUpTo = built.hashedEnd;
  } else {
    h.update(b.subarray(dir4 + 8, built.sizeOfHeaders));
    const raw = built.sections
      .filter((s) => s.sizeOfRawData > 0)
      .sort((x, y) => x.pointerToRawData - y.pointerToRawData);
    for (const s of raw) h.update(b.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData));
    if (built.hashedEnd > built.sumOfBytesHashed) h.update(b.subarray(built.sumOfBytesHashed, built.hashedEnd));
    hashedUpTo = built.hashedEnd;
  }
  if (style.padTo8) h.update(new Uint8Array(alignUp(hashedUpTo, 8) - hashedUpTo));
  return h.digest("hex");
}
