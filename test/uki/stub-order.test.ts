// The measuring order kimage uses (UNIFIED_SECTIONS) against the one compiled
// into Debian's own systemd-stub: the stub's `unified_sections[]` array of
// string pointers, read out of the stub binary (trixie's systemd-boot-efi).
// This is the oracle for .dtbauto and .hwids, whose order trixie's
// systemd-measure 257 gets swapped (its --dtbauto= data is measured under the
// name ".hwids" and the reverse).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePe, type PeFile } from "../../src/formats/pe/parse.js";
import { UNIFIED_SECTIONS } from "../../src/uki/sections.js";
import { readBytes, requireReal } from "../support/real.js";

// KIMAGE_UKI_TOOLS: a directory with systemd-boot-efi extracted (before the fixtures hold it).
const toolsDir = process.env.KIMAGE_UKI_TOOLS;
const local = toolsDir
  ? ["linuxx64.efi.stub", "linuxaa64.efi.stub"].map((n) => join(toolsDir, "usr/lib/systemd/boot/efi", n)).filter((p) => existsSync(p)).map((abs) => ({ abs, suite: "local", arch: abs.includes("aa64") ? "arm64" : "amd64" }))
  : [];
const stubs = local.length ? local : requireReal("systemd-stub (systemd-boot-efi)", (f) => /linux(x64|aa64)\.efi\.stub$/.test(f.path));

/** The NUL-terminated strings of the stub's `unified_sections[]`, in array order. */
export function stubUnifiedSections(pe: PeFile): string[] {
  const bytes = pe.bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rvaOf = (off: number) => {
    const s = pe.sections.find((x) => off >= x.PointerToRawData && off < x.PointerToRawData + x.SizeOfRawData);
    return s ? s.VirtualAddress + (off - s.PointerToRawData) : -1;
  };
  const find = (needle: Uint8Array, from = 0): number => {
    outer: for (let i = from; i <= bytes.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  };
  // Every address of each known name (with its NUL) in the image.
  const names = new Map<bigint, string>();
  for (const n of UNIFIED_SECTIONS) {
    const needle = new TextEncoder().encode(`${n}\0`);
    for (let at = find(needle); at >= 0; at = find(needle, at + 1)) {
      const rva = rvaOf(at);
      if (rva >= 0) names.set(pe.optional.ImageBase + BigInt(rva), n);
    }
  }
  // The array: consecutive 8-byte pointers to the names, starting with ".linux", ending with NULL.
  for (let off = 0; off + 16 <= bytes.length; off += 8) {
    if (names.get(view.getBigUint64(off, true)) !== ".linux") continue;
    const out: string[] = [];
    for (let p = off; p + 8 <= bytes.length; p += 8) {
      const v = view.getBigUint64(p, true);
      if (v === 0n) return out;
      const n = names.get(v);
      if (!n) break;
      out.push(n);
    }
  }
  return [];
}

describe.skipIf(stubs.length === 0)("the stub's own unified_sections[]", () => {
  for (const stub of stubs) {
    it(`${stub.suite} ${stub.arch}: kimage measures in the stub's order`, () => {
      const order = stubUnifiedSections(parsePe(readBytes(stub.abs)));
      expect(order.length).toBeGreaterThan(8);
      // The stub may be older than kimage's list (which also knows later additions such as .efifw):
      // its names must be a prefix of kimage's order.
      expect(UNIFIED_SECTIONS.slice(0, order.length)).toEqual(order);
    });
  }
});
