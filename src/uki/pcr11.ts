/**
 * PCR 11 prediction: what systemd-stub measures into TPM PCR 11 for a UKI
 * (one profile), then what systemd-pcrphase adds at each boot phase, for the
 * sha1, sha256, sha384 and sha512 banks. Pure: the caller hands over the
 * effective sections' bytes (see `profiles.ts` and `sectionMemory`).
 *
 * Sources: systemd `src/boot/stub.c` `measure_sections()`, `src/fundamental/uki.h`,
 * `src/measure/measure-tool.c` (`measure_kernel`, `measure_phase`,
 * `pcr_state_extend`) and the UAPI UKI specification ("UKI TPM PCR
 * Measurements"). The oracle is `systemd-measure calculate`.
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { defaultHashProvider, HASH_ALGORITHMS, HASH_LENGTH, type HashAlgorithm, type HashProvider } from "../hash/index.js";
import { isMeasuredSection, UKI_LAYER, UNIFIED_SECTIONS } from "./sections.js";

/** The PCR systemd-stub measures a UKI's sections into (`TPM2_PCR_KERNEL_BOOT`). */
export const PCR_KERNEL_BOOT = 11;

/**
 * The words systemd-pcrphase extends into PCR 11, in boot order
 * (systemd-pcrphase-initrd.service, -pcrphase-initrd (stop),
 * -pcrphase-sysinit.service, -pcrphase.service).
 */
export const PCR_PHASE_WORDS = ["enter-initrd", "leave-initrd", "sysinit", "ready"] as const;

/**
 * The phases systemd-measure reports by default (measure-tool.c: "pick
 * everything from the beginning of the initrd to the beginning of
 * shutdown"): each is the colon-joined words extended so far.
 */
export const PCR_PHASES: readonly string[] = PCR_PHASE_WORDS.map((_, i) => PCR_PHASE_WORDS.slice(0, i + 1).join(":"));

/** One section the stub found for the booted profile: its name and its VirtualSize bytes. */
export interface Pcr11Section {
  /** The section name, e.g. `.linux`. */
  name: string;
  /** Its bytes as loaded (VirtualSize bytes, zero-filled past the raw data). */
  data: Uint8Array;
}

/** One predicted value, in systemd-measure's JSON shape. */
export interface Pcr11Value {
  /** The phase: colon-joined pcrphase words, e.g. `enter-initrd:leave-initrd`. */
  phase: string;
  /** Always 11. */
  pcr: number;
  /** The PCR value, lower-case hex. */
  hash: string;
}

/** Predicted values by bank, as `systemd-measure calculate --json=short` prints them. */
export type Pcr11Prediction = Partial<Record<HashAlgorithm, Pcr11Value[]>>;

/** Options of {@link predictPcr11}. */
export interface PredictPcr11Options {
  /** The banks to compute (default all four, in sha1, sha256, sha384, sha512 order as systemd-measure sorts them). */
  banks?: readonly HashAlgorithm[];
  /** Hash provider (default {@link defaultHashProvider}). */
  hash?: HashProvider;
}

/**
 * The sections the stub measures, in the order it measures them: the known
 * names of `UNIFIED_SECTIONS` in that order, without `.pcrsig` and without
 * empty sections. stub.c `measure_sections()`: "for (UnifiedSection section
 * = 0; section < _UNIFIED_SECTION_MAX; section++) { if
 * (!unified_section_measure(section)) continue; if
 * (!PE_SECTION_VECTOR_IS_SET(sections + section)) continue;" (a section of
 * size 0 is not "set"; measure-tool.c: "We skip over empty files, the stub
 * does so too"). Names the stub does not know are not measured.
 *
 * @throws KimageError `bad-argument` when a name appears twice (the effective
 *   set has one section per name; choose the `.dtbauto` the stub matched).
 */
export function measuredSections(sections: readonly Pcr11Section[]): Pcr11Section[] {
  const byName = new Map<string, Pcr11Section>();
  for (const s of sections) {
    if (!isMeasuredSection(s.name)) continue;
    if (byName.has(s.name)) {
      throw new KimageError("bad-argument", `two ${s.name} sections given: the stub measures one per name (for .dtbauto, the one that matched the machine)`, { layer: UKI_LAYER, offset: -1 });
    }
    byName.set(s.name, s);
  }
  return UNIFIED_SECTIONS.flatMap((n) => {
    const s = byName.get(n);
    return s && s.data.length > 0 ? [s] : [];
  });
}

const ASCII = new TextEncoder();

/**
 * The value of PCR 11 after the sections and phases, per bank, starting from
 * all zeros. Each measurement extends the PCR with the digest of an event:
 * PCR := H(PCR || H(event)) (measure-tool.c `pcr_state_extend`: "First thing
 * we do, is hash the old PCR value [...] Then, we hash the new data").
 *
 * - For each measured section (see {@link measuredSections}): first its name
 *   with the terminating NUL (stub.c: "First measure the name of the
 *   section", `strsize8(...)`, "including NUL byte"), then its data ("Then
 *   measure the data of the section").
 * - Then, for each phase, its words without a NUL (measure-tool.c
 *   `measure_phase`: "First hash the word itself", `strlen(*word)`), each
 *   phase starting again from the value after the sections.
 */
export async function predictPcr11(sections: readonly Pcr11Section[], options: PredictPcr11Options = {}): Promise<Pcr11Prediction> {
  const hash = options.hash ?? defaultHashProvider();
  const banks = HASH_ALGORITHMS.filter((b) => (options.banks ?? HASH_ALGORITHMS).includes(b));
  const measured = measuredSections(sections);
  const out: Pcr11Prediction = {};
  for (const bank of banks) {
    const extend = async (pcr: Uint8Array, event: Uint8Array) => hash.digest(bank, [pcr, await hash.digest(bank, [event])]);
    let pcr: Uint8Array = new Uint8Array(HASH_LENGTH[bank]);
    for (const s of measured) {
      pcr = await extend(pcr, ASCII.encode(`${s.name}\0`));
      pcr = await extend(pcr, s.data);
    }
    const values: Pcr11Value[] = [];
    for (const phase of PCR_PHASES) {
      let v = pcr;
      for (const word of phase.split(":")) v = await extend(v, ASCII.encode(word));
      values.push({ phase, pcr: PCR_KERNEL_BOOT, hash: toHex(v) });
    }
    out[bank] = values;
  }
  return out;
}
