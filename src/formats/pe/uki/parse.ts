/**
 * A unified kernel image read from its PE section table, with systemd-stub's
 * rules (src/boot/pe.c): section names compared on their 8-byte field, the
 * first match in a range wins, sections before the first `.profile` are the
 * base, each `.profile` starts a profile that runs to the next one, and a
 * profile's sections override the base's.
 *
 * @module
 */

import { KimageError, type Finding } from "../../../core/errors.js";
import { parsePe, type PeFile, type Section } from "../parse.js";
import { classifyStub } from "../stub.js";
import { ADDON_SECTIONS, MAX_PROFILES, UKI_LAYER, UKI_SECTION_ROLES, UNIFIED_SECTIONS, isUnifiedSection, type UnifiedSectionName } from "./spec.js";

/** One section of a UKI, as systemd-stub sees it. */
export interface UkiSection {
  /** Index in the PE section table. */
  index: number;
  /**
   * The name as systemd-stub compares it: "Compares up to 8 characters of a
   * and b i.e. the name size limit in the PE section header" (the raw field,
   * NUL-trimmed; a "/nnn" long name is not resolved).
   */
  name: string;
  /** The role ({@link UKI_SECTION_ROLES}), or `"stub"` for the stub's own sections. */
  role: string;
  /** Absolute offset of the raw data (PointerToRawData) in the outermost input. */
  offset: number;
  /** PointerToRawData, relative to the PE. */
  PointerToRawData: number;
  /** SizeOfRawData. */
  SizeOfRawData: number;
  /** VirtualSize: the size of the section's content as the stub sees it. */
  VirtualSize: number;
  /**
   * Bytes read from the file: "The actual data that's read from disk is the
   * minimum of these two fields" (pe.c, `file_size = MIN(SizeOfRawData, VirtualSize)`).
   */
  fileSize: number;
  /** VirtualSize − fileSize: zero bytes after the file data (the loader's zero fill). */
  zeroFill: number;
  /** Absolute offset of the section header. */
  headerOffset: number;
  /** The profile whose range holds the section: null for the base (before the first `.profile`). */
  profile: number | null;
}

/** One `.profile` of a UKI and its effective section set. */
export interface UkiProfile {
  /** Profile number (0 for the first `.profile`). */
  index: number;
  /** The `.profile` section. */
  section: UkiSection;
  /** `ID=` of the `.profile` metadata, or null. */
  id: string | null;
  /** `TITLE=` of the `.profile` metadata, or null. */
  title: string | null;
  /** Every KEY=value of the `.profile` metadata. */
  metadata: Record<string, string>;
}

/** What kind of UKI PE a file is. */
export type UkiKind = "uki" | "addon";

/** A parsed UKI or UKI addon. */
export interface Uki {
  /** `"uki"` (has `.linux`) or `"addon"` (only addon sections). */
  kind: UkiKind;
  /** The PE it was read from. */
  pe: PeFile;
  /** Every section of the PE table, in table order, with its role. */
  sections: UkiSection[];
  /** The base: the sections before the first `.profile`. */
  base: UkiSection[];
  /** The `.profile`s, in table order (empty: the base is the only, implied, profile 0). */
  profiles: UkiProfile[];
  /** Observations: duplicates, zero fill, overlapping parts, sections an addon may not carry. */
  findings: Finding[];
}

/** A section of a profile's effective set: its name, where it lies, and its content. */
export interface EffectiveSection {
  /** The section name, e.g. `".linux"`. */
  name: UnifiedSectionName;
  /** Absolute offset of the section's raw data in the outermost input. */
  offset: number;
  /**
   * The content with VirtualSize semantics: VirtualSize bytes, the file's
   * bytes followed by zeros when VirtualSize exceeds SizeOfRawData (a view
   * of the file when there is no zero fill).
   */
  data: Uint8Array;
  /** The section it comes from. */
  section: UkiSection;
}

/** Zero fill beyond this many bytes is refused (`limit`), so a hostile VirtualSize cannot exhaust memory. */
export const MAX_UKI_ZERO_FILL = 64 * 1024 * 1024;

const UKI_MARKER = ".linux";

function inRange(s: UkiSection, start: number, end: number): boolean {
  return s.index >= start && s.index < end;
}

/** True when a PE's section table names `.linux` (by the 8-byte field, as the stub does): a UKI. */
export function isUkiPe(pe: PeFile): boolean {
  return pe.sections.some((s) => s.ShortName === UKI_MARKER);
}

/**
 * True when a PE is a UKI addon: no `.linux`, not a Linux EFI stub, and one
 * of the addon sections ({@link ADDON_SECTIONS}) present.
 */
export function isUkiAddonPe(pe: PeFile): boolean {
  if (isUkiPe(pe) || classifyStub(pe) !== null) return false;
  return pe.sections.some((s) => (ADDON_SECTIONS as readonly string[]).includes(s.ShortName));
}

function toUkiSection(pe: PeFile, s: Section, profile: number | null): UkiSection {
  const fileSize = Math.min(s.VirtualSize, s.SizeOfRawData);
  return {
    index: s.index,
    name: s.ShortName,
    role: isUnifiedSection(s.ShortName) ? UKI_SECTION_ROLES[s.ShortName] : "stub",
    offset: pe.base + s.PointerToRawData,
    PointerToRawData: s.PointerToRawData,
    SizeOfRawData: s.SizeOfRawData,
    VirtualSize: s.VirtualSize,
    fileSize,
    zeroFill: s.VirtualSize - fileSize,
    headerOffset: s.headerOffset,
    profile,
  };
}

/**
 * KEY=value lines as os-release(5) writes them (also the `.profile`
 * metadata's syntax): "Variable assignment values must be enclosed in double
 * or single quotes if they include spaces, semicolons or other special
 * characters outside of A–Z, a–z, 0–9"; "Lines beginning with "#" are
 * treated as comments. Blank lines are permitted and ignored."
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!/^[A-Za-z0-9_]+$/.test(key)) continue;
    let value = line.slice(eq + 1);
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\([$"\\`])/g, "$1");
    }
    out[key] = value;
  }
  return out;
}

/** A section's content as text: UTF-8, with the trailing NULs dropped (as `ukify inspect` shows it). */
export function sectionText(data: Uint8Array): string {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return new TextDecoder("utf-8", { fatal: false }).decode(data.subarray(0, end));
}

/**
 * A section's content with VirtualSize semantics: the `fileSize` bytes of
 * the file, then `zeroFill` zeros (a view of the PE's bytes when there is no
 * zero fill).
 *
 * @throws KimageError `limit` when the zero fill exceeds {@link MAX_UKI_ZERO_FILL}.
 */
export function ukiSectionData(uki: Pick<Uki, "pe">, s: UkiSection): Uint8Array {
  const bytes = uki.pe.bytes.subarray(s.PointerToRawData, s.PointerToRawData + s.fileSize);
  if (s.zeroFill === 0) return bytes;
  if (s.zeroFill > MAX_UKI_ZERO_FILL) {
    throw new KimageError("limit", `section ${s.index} (${s.name}): VirtualSize 0x${s.VirtualSize.toString(16)} asks for ${s.zeroFill} bytes of zero fill, more than ${MAX_UKI_ZERO_FILL}`, { layer: UKI_LAYER, offset: s.headerOffset + 8 });
  }
  const out = new Uint8Array(s.VirtualSize);
  out.set(bytes);
  return out;
}

/**
 * Reads a UKI (or addon) from a parsed PE.
 *
 * Findings: `uki-duplicate-section` (a name twice in one range; the stub
 * uses the first: "First matching section wins, ignore the rest"; `.dtbauto`
 * is meant to repeat), `uki-zero-fill` (VirtualSize > SizeOfRawData: "VirtualSize
 * can be bigger than SizeOfRawData when the section requires uninitialized
 * data"), `uki-parts-overlap` (two UKI sections share file bytes),
 * `uki-addon-section-ignored` (an addon section the stub does not read from
 * addons), `uki-too-many-profiles`.
 *
 * @throws KimageError `unsupported` when the PE is neither a UKI nor an addon.
 */
export function parseUki(pe: PeFile): Uki {
  const kind: UkiKind | null = isUkiPe(pe) ? "uki" : isUkiAddonPe(pe) ? "addon" : null;
  if (kind === null) throw new KimageError("unsupported", "the PE has no .linux section and no addon section: not a UKI", { layer: UKI_LAYER, offset: pe.base });
  const findings: Finding[] = [];
  const sections: UkiSection[] = [];
  const profileStarts: number[] = [];
  let current: number | null = null;
  for (const s of pe.sections) {
    if (s.ShortName === ".profile" && kind === "uki") {
      current = current === null ? 0 : current + 1;
      profileStarts.push(s.index);
    }
    sections.push(toUkiSection(pe, s, current));
  }
  const base = sections.filter((s) => s.profile === null);
  const profiles: UkiProfile[] = [];
  for (const [i, start] of profileStarts.entries()) {
    if (i === MAX_PROFILES) {
      findings.push({ code: "uki-too-many-profiles", severity: "warning", offset: (sections[start] as UkiSection).headerOffset, message: `more than ${MAX_PROFILES} .profile sections; the rest are not listed` });
      break;
    }
    const section = sections[start] as UkiSection;
    const metadata = parseOsRelease(sectionText(pe.bytes.subarray(section.PointerToRawData, section.PointerToRawData + section.fileSize)));
    profiles.push({ index: i, section, id: metadata.ID ?? null, title: metadata.TITLE ?? null, metadata });
  }

  // Duplicates inside one range (the base, or one profile).
  const ranges: [number, number][] = [[0, profileStarts[0] ?? sections.length]];
  for (const [i, start] of profileStarts.entries()) ranges.push([start, profileStarts[i + 1] ?? sections.length]);
  for (const [start, end] of ranges) {
    const seen = new Map<string, UkiSection>();
    for (const s of sections) {
      if (!inRange(s, start, end) || !isUnifiedSection(s.name) || s.name === ".dtbauto" || s.name === ".efifw") continue;
      const first = seen.get(s.name);
      if (first) {
        findings.push({
          code: "uki-duplicate-section",
          severity: "warning",
          offset: s.headerOffset,
          message: `section ${s.index} is a second ${s.name} in ${s.profile === null ? "the base" : `profile ${s.profile}`} (the first is section ${first.index}); systemd-stub uses the first ("First matching section wins, ignore the rest")`,
        });
      } else seen.set(s.name, s);
    }
  }
  for (const s of sections) {
    if (s.zeroFill > 0 && isUnifiedSection(s.name)) {
      findings.push({ code: "uki-zero-fill", severity: "info", offset: s.headerOffset + 8, message: `section ${s.index} (${s.name}): VirtualSize 0x${s.VirtualSize.toString(16)} exceeds SizeOfRawData 0x${s.SizeOfRawData.toString(16)}: its last ${s.zeroFill} byte(s) are zeros the loader fills in, not file bytes` });
    }
    if (kind === "addon" && isUnifiedSection(s.name) && !ADDON_SECTIONS.includes(s.name) && s.name !== ".sbat" && s.name !== ".osrel") {
      findings.push({ code: "uki-addon-section-ignored", severity: "warning", offset: s.headerOffset, message: `addon section ${s.index} (${s.name}) is not one systemd-stub reads from an addon (${ADDON_SECTIONS.join(", ")})` });
    }
  }
  // UKI parts that share file bytes.
  const parts = sections.filter((s) => isUnifiedSection(s.name) && s.fileSize > 0).sort((a, b) => a.PointerToRawData - b.PointerToRawData || a.index - b.index);
  for (let i = 1; i < parts.length; i++) {
    const a = parts[i - 1] as UkiSection;
    const b = parts[i] as UkiSection;
    if (b.PointerToRawData < a.PointerToRawData + a.fileSize) {
      findings.push({ code: "uki-parts-overlap", severity: "warning", offset: b.headerOffset + 20, message: `section ${b.index} (${b.name}) at 0x${b.PointerToRawData.toString(16)} overlaps section ${a.index} (${a.name}) ending at 0x${(a.PointerToRawData + a.fileSize).toString(16)}: one file byte belongs to two parts` });
    }
  }
  return { kind, pe, sections, base, profiles, findings };
}

/** Options of {@link effectiveSections}. */
export interface EffectiveOptions {
  /**
   * The `.dtbauto` chosen for this profile (see `chooseDtbauto`), if any;
   * without it no `.dtbauto` is in the set.
   */
  dtbauto?: UkiSection | null;
}

/**
 * The effective sections of a profile, in systemd-stub's canonical order
 * ({@link UNIFIED_SECTIONS}), one per name: stub.c locates the base's
 * sections, then "Overlay profile sections over base". `profile` undefined
 * means the base alone; a UKI without `.profile` has the implied profile 0
 * (= the base: "the first profile is implied if it doesn't exist").
 *
 * @throws KimageError `bad-argument` when the profile does not exist.
 */
export function effectiveSections(uki: Uki, profile?: number, options: EffectiveOptions = {}): EffectiveSection[] {
  if (profile !== undefined && !(Number.isInteger(profile) && profile >= 0 && (profile < uki.profiles.length || (profile === 0 && uki.profiles.length === 0)))) {
    throw new KimageError("bad-argument", `profile ${profile} does not exist (the UKI has ${uki.profiles.length} .profile section(s))`, { layer: UKI_LAYER, offset: -1 });
  }
  const pick = (name: string, inProfile: number | null): UkiSection | undefined => uki.sections.find((s) => s.name === name && s.profile === inProfile);
  const out: EffectiveSection[] = [];
  for (const name of UNIFIED_SECTIONS) {
    let s: UkiSection | undefined | null;
    if (name === ".dtbauto") s = options.dtbauto ?? null;
    else s = (profile !== undefined && uki.profiles.length > 0 ? pick(name, profile) : undefined) ?? pick(name, null);
    if (!s) continue;
    out.push({ name, offset: s.offset, data: ukiSectionData(uki, s), section: s });
  }
  return out;
}

/**
 * The bytes of one part of a UKI, as `extract --section NAME [--profile N]`
 * writes them: the section the stub would use for that profile (the
 * profile's own, else the base's; for a name the stub does not read, such
 * as `.dtbauto` or a stub section, the first of that name in the profile's
 * range, else in the base), with VirtualSize semantics.
 *
 * @throws KimageError `bad-argument` when the profile does not exist or no
 *   section has that name there; `limit` as {@link ukiSectionData}.
 */
export function ukiPart(uki: Uki, name: string, profile?: number): EffectiveSection | { name: string; offset: number; data: Uint8Array; section: UkiSection } {
  const eff = effectiveSections(uki, profile);
  const hit = eff.find((e) => e.name === name);
  if (hit) return hit;
  const inProfile = profile !== undefined && uki.profiles.length > 0 ? uki.sections.find((s) => s.name === name && s.profile === profile) : undefined;
  const s = inProfile ?? uki.sections.find((x) => x.name === name && x.profile === null);
  if (!s) {
    throw new KimageError("bad-argument", `no section ${JSON.stringify(name)} in ${profile === undefined ? "the base" : `profile ${profile}`} (sections: ${[...new Set(uki.sections.map((x) => x.name))].join(" ")})`, { layer: UKI_LAYER, offset: -1 });
  }
  return { name, offset: s.offset, data: ukiSectionData(uki, s), section: s };
}

/**
 * Reads a UKI (or addon) from a file's bytes: `parseUki(parsePe(bytes))`.
 *
 * ```ts
 * const uki = readUki(bytes);
 * for (const { name, offset, data } of effectiveSections(uki, 1)) …  // profile 1, stub order
 * ```
 *
 * @throws KimageError any PE parse error (`pe-section-out-of-bounds` for a
 *   `.linux` outside the file, …), `unsupported` when it is not a UKI.
 */
export function readUki(bytes: Uint8Array): Uki {
  return parseUki(parsePe(bytes));
}
