/**
 * The profile rule of multi-profile UKIs: which sections a profile sees.
 *
 * UAPI "Unified Kernel Image" specification and systemd `src/boot/pe.c`
 * (`pe_section_table_find_profile_start`, `pe_locate_profile_sections`) and
 * `src/boot/stub.c` (`find_sections`):
 * - the sections before the first `.profile` form the base;
 * - each `.profile` section starts a profile that runs to the next
 *   `.profile` or the end of the table, and profiles are numbered from 0;
 * - the stub locates the base sections, then "override[s] them with the
 *   per-profile sections of the selected profile", so a profile inherits
 *   every base section it does not carry itself;
 * - within one range the first section of a name wins ("First matching
 *   section wins, ignore the rest");
 * - "the first profile is implied if it doesn't exist": profile 0 of a UKI
 *   without `.profile` is the base;
 * - the stub boots profile 0 unless told otherwise (`@N` on its command line).
 *
 * Names are compared as the stub does, on the 8-byte field of the section
 * header (`ShortName`): pe.c `pe_section_name_equal` "Compares up to 8
 * characters", so a name kept in the COFF string table never matches.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { DEVICE_MATCHED_SECTIONS, UKI_LAYER } from "./sections.js";

/** What the rule reads of a section header: its 8-byte name field, NUL-trimmed. */
export interface ProfileRuleSection {
  ShortName: string;
}

/** How many `.profile` sections (profiles) the section table holds. */
export function countProfiles(table: readonly ProfileRuleSection[]): number {
  return table.filter((s) => s.ShortName === ".profile").length;
}

/**
 * The effective section set of `profile` (0-based; `null` for the base
 * alone), in section-table order: the first section of each name in the
 * profile's range, plus the first section of each other name in the base.
 *
 * For the device-matched names (`.dtbauto`, `.efifw`) the stub takes the first
 * section that *matches the machine*, so every candidate is returned, in the
 * order the stub tries them: the profile's, then the base's (a base one
 * stays only when no profile one matches).
 *
 * @throws KimageError `uki-no-profile` when `profile` is not 0 and the table
 *   has fewer than `profile + 1` `.profile` sections (stub.c: "Unable to
 *   locate embedded per-profile PE sections").
 */
export function profileSections<S extends ProfileRuleSection>(table: readonly S[], profile: number | null = 0): S[] {
  const firstProfile = table.findIndex((s) => s.ShortName === ".profile");
  const baseEnd = firstProfile < 0 ? table.length : firstProfile;
  const base = table.slice(0, baseEnd);
  let own: S[] = [];
  if (profile !== null) {
    if (!Number.isInteger(profile) || profile < 0) {
      throw new KimageError("bad-argument", `profile ${profile} is not a profile number (0, 1, …)`, { layer: UKI_LAYER, offset: -1 });
    }
    const starts = table.flatMap((s, i) => (s.ShortName === ".profile" ? [i] : []));
    const start = starts[profile];
    if (start === undefined) {
      if (profile !== 0) throw new KimageError("uki-no-profile", `profile ${profile} does not exist: the UKI has ${starts.length} profile(s)`, { layer: UKI_LAYER, offset: -1 });
    } else {
      own = table.slice(start, starts[profile + 1] ?? table.length);
    }
  }
  const matched = (name: string) => (DEVICE_MATCHED_SECTIONS as readonly string[]).includes(name);
  const chosen = new Set<S>();
  const ownNames = new Set<string>();
  for (const s of own) {
    if (matched(s.ShortName)) chosen.add(s);
    else if (!ownNames.has(s.ShortName)) chosen.add(s);
    ownNames.add(s.ShortName);
  }
  const baseNames = new Set<string>();
  for (const s of base) {
    if (matched(s.ShortName)) chosen.add(s);
    else if (!ownNames.has(s.ShortName) && !baseNames.has(s.ShortName)) chosen.add(s);
    baseNames.add(s.ShortName);
  }
  const ordered = [...own.filter((s) => chosen.has(s)), ...base.filter((s) => chosen.has(s))];
  // Table order for everything except the candidates' trial order (profile's first).
  const nonMatched = table.filter((s) => chosen.has(s) && !matched(s.ShortName));
  return [...nonMatched, ...ordered.filter((s) => matched(s.ShortName))];
}
