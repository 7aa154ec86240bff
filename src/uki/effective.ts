/**
 * A UKI's effective sections for one profile, read from a parsed PE (the
 * PCR 11 view; the uki layer's `effectiveSections` is the inspect view): the
 * profile rule (`profiles.ts`) applied to the section table, each section's
 * bytes as the stub sees them (`sectionMemory`), and the device-matched
 * `.dtbauto` / `.efifw` candidates kept apart, since which one the stub uses
 * depends on the machine.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import type { PeFile, Section } from "../formats/pe/parse.js";
import type { Pcr11Section } from "./pcr11.js";
import { profileSections } from "./profiles.js";
import { DEVICE_MATCHED_SECTIONS, sectionMemory, UKI_LAYER } from "./sections.js";

/** One effective section: its header and its bytes as loaded. */
export interface ProfileSetSection extends Pcr11Section {
  /** The section header (index, offsets) in the UKI. */
  header: Section;
}

/** A profile's sections, split into what the stub uses on any machine and the device-matched candidates. */
export interface ProfileSectionSet {
  /** The profile (0-based), or null for the base alone. */
  profile: number | null;
  /** One section per name (first wins; a profile's own override the base's), table order. */
  sections: ProfileSetSection[];
  /**
   * `.dtbauto` and `.efifw` candidates in the order the stub tries them (the
   * profile's, then the base's); it uses the first that matches the machine.
   */
  candidates: ProfileSetSection[];
}

/** Options of {@link profileSectionSet}. */
export interface ProfileSectionSetOptions {
  /**
   * Require a `.linux` (stub.c `find_sections`: "Image lacks .linux
   * section."); default true. Addons have none.
   */
  requireLinux?: boolean;
}

/**
 * The effective sections of `profile` (default 0, the profile the stub boots
 * when not told otherwise).
 *
 * @throws KimageError `uki-no-profile` for a profile the UKI does not have,
 *   `uki-no-linux` when the set has no `.linux`, `limit` or
 *   `pe-section-out-of-bounds` from {@link sectionMemory}.
 */
export function profileSectionSet(pe: PeFile, profile: number | null = 0, options: ProfileSectionSetOptions = {}): ProfileSectionSet {
  const chosen = profileSections(pe.sections, profile);
  const read = (s: Section): ProfileSetSection => ({ name: s.ShortName, data: sectionMemory(pe.bytes, s, pe.base), header: s });
  const matched = (s: Section) => (DEVICE_MATCHED_SECTIONS as readonly string[]).includes(s.ShortName);
  const sections = chosen.filter((s) => !matched(s)).map(read);
  const candidates = chosen.filter(matched).map(read);
  if ((options.requireLinux ?? true) && !sections.some((s) => s.name === ".linux")) {
    throw new KimageError("uki-no-linux", `${profile === null ? "the base" : `profile ${profile}`} has no .linux section: not a UKI`, { layer: UKI_LAYER, offset: pe.base + pe.layout.sectionTable });
  }
  return { profile, sections, candidates };
}
