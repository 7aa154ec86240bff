/**
 * The `.sbat` section (shim's SBAT.md): UTF-8 CSV, one entry per line,
 * "component_name,component_generation,vendor_name,vendor_package_name,
 * vendor_version,vendor_url", the first entry being `sbat,1,...`.
 *
 * @module
 */

import type { Finding } from "../../core/errors.js";
import { sectionByName, type PeFile } from "./parse.js";

/** One SBAT entry, with the field names of SBAT.md. */
export interface SbatEntry {
  component_name: string;
  /** The generation number; NaN when the field is not a decimal number. */
  component_generation: number;
  vendor_name: string;
  vendor_package_name: string;
  vendor_version: string;
  vendor_url: string;
}

/** At most this many entries are read from a `.sbat` section. */
export const MAX_SBAT_ENTRIES = 1024;
/** At most this many bytes of a `.sbat` section are read. */
export const MAX_SBAT_BYTES = 64 * 1024;

/**
 * Parses the `.sbat` section of `pe`, or returns null when there is none.
 * Reads at most min(VirtualSize, SizeOfRawData, {@link MAX_SBAT_BYTES}) bytes,
 * up to the first NUL; malformed lines are reported in `findings`.
 */
export function parseSbat(pe: PeFile, findings: Finding[] = []): SbatEntry[] | null {
  const sec = sectionByName(pe, ".sbat");
  if (!sec) return null;
  const size = Math.min(sec.VirtualSize || sec.SizeOfRawData, sec.SizeOfRawData, MAX_SBAT_BYTES);
  const raw = pe.bytes.subarray(sec.PointerToRawData, sec.PointerToRawData + size);
  const nul = raw.indexOf(0);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(nul >= 0 ? raw.subarray(0, nul) : raw);
  const entries: SbatEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length && entries.length < MAX_SBAT_ENTRIES; i++) {
    const line = lines[i] as string;
    if (line.trim() === "") continue;
    const f = line.split(",");
    if (f.length < 2) {
      findings.push({
        code: "sbat-malformed",
        severity: "warning",
        offset: pe.base + sec.PointerToRawData,
        message: `.sbat line ${i + 1} has ${f.length} field(s); at least component_name and component_generation are required`,
      });
      continue;
    }
    const gen = f[1] ?? "";
    entries.push({
      component_name: f[0] ?? "",
      component_generation: /^\d+$/.test(gen) ? Number(gen) : Number.NaN,
      vendor_name: f[2] ?? "",
      vendor_package_name: f[3] ?? "",
      vendor_version: f[4] ?? "",
      vendor_url: f.slice(5).join(","),
    });
  }
  return entries;
}
