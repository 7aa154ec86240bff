/**
 * `kimage pcr11 FILE [--profile N] [--bank ALG]… [--dtbauto K] [--json]`:
 * predicts what systemd-stub measures into TPM PCR 11 when it boots the UKI
 * FILE (profile N, default 0), and the values after each systemd-pcrphase
 * phase; a `.pcrsig` is checked against `.pcrpkey` and the prediction
 * (text output). `--json` prints systemd-measure's own shape
 * (`{"sha256":[{"phase","pcr","hash"}…]}`), so the two compare directly.
 *
 * @module
 */

import { isHashAlgorithm, type HashAlgorithm } from "../hash/types.js";
import { parsePe } from "../formats/pe/parse.js";
import { nodeHashProvider } from "../node/hash.js";
import { profileSectionSet } from "../uki/effective.js";
import { measuredSections, predictPcr11, type Pcr11Section } from "../uki/pcr11.js";
import { verifyPcrSig } from "../uki/pcrsig.js";
import { readInput } from "./io.js";
import { UsageError, type Command } from "./types.js";

/** The pcr11 command. */
export const pcr11Command: Command = {
  name: "pcr11",
  usage: "pcr11 FILE [--profile N] [--bank sha1|sha256|sha384|sha512]… [--dtbauto K] [--json]",
  summary: "predict a UKI's TPM PCR 11 values (as systemd-measure calculate)",
  options: {
    profile: { type: "string" },
    bank: { type: "string", multiple: true },
    dtbauto: { type: "string" },
    json: { type: "boolean", default: false },
  },
  optionHelp: {
    profile: "the profile the stub boots (0-based; default 0, as the stub without @N)",
    bank: "a PCR bank to compute (repeatable; default all four)",
    dtbauto: "measure the K-th .dtbauto/.efifw candidate (0-based, the stub's trial order) as the one the machine matched; default none matched",
    json: "print systemd-measure calculate's JSON shape",
  },
  notes: [
    "The stub measures, in this order and each as its name with a NUL then its VirtualSize bytes: .linux .osrel .cmdline .initrd .ucode .splash .dtb .uname .sbat .pcrpkey .profile .dtbauto .hwids .efifw (not .pcrsig; not empty sections).",
  ],
  positionals: ["FILE"],
  async run({ io, values, positionals }) {
    let profile = 0;
    if (values.profile !== undefined) {
      profile = Number(values.profile);
      if (!/^\d+$/.test(String(values.profile))) throw new UsageError("--profile must be a profile number (0, 1, …)");
    }
    const banks = (values.bank as string[] | undefined) ?? [];
    for (const b of banks) if (!isHashAlgorithm(b)) throw new UsageError(`--bank must be sha1, sha256, sha384 or sha512, not ${JSON.stringify(b)}`);
    let pick: number | undefined;
    if (values.dtbauto !== undefined) {
      if (!/^\d+$/.test(String(values.dtbauto))) throw new UsageError("--dtbauto must be a candidate number (0, 1, …)");
      pick = Number(values.dtbauto);
    }
    const bytes = await readInput(positionals[0] as string);
    const eff = profileSectionSet(parsePe(bytes), profile);
    const sections: Pcr11Section[] = [...eff.sections];
    if (pick !== undefined) {
      const c = eff.candidates[pick];
      if (!c) throw new UsageError(`--dtbauto ${pick}: profile ${profile} has ${eff.candidates.length} .dtbauto/.efifw candidate(s)`);
      sections.push(c);
    }
    const prediction = await predictPcr11(sections, { ...(banks.length ? { banks: banks as HashAlgorithm[] } : {}), hash: nodeHashProvider });
    if (values.json) {
      io.out(JSON.stringify(prediction));
      return 0;
    }
    io.out(`profile ${profile}; measured: ${measuredSections(sections).map((s) => `${s.name} (${s.data.length} bytes)`).join(", ")}`);
    if (eff.candidates.length > 0 && pick === undefined) {
      io.out(`not measured: ${eff.candidates.length} .dtbauto/.efifw candidate(s), as on a machine none matches (choose one with --dtbauto K)`);
    }
    for (const [bank, list] of Object.entries(prediction)) {
      for (const v of list) io.out(`11:${bank}=${v.hash}  ${v.phase}`);
    }
    // A .pcrsig is checked against .pcrpkey and against the values just predicted (on every bank).
    const sig = sections.find((x) => x.name === ".pcrsig");
    const key = sections.find((x) => x.name === ".pcrpkey");
    if (sig && key) {
      const full = banks.length ? await predictPcr11(sections, { hash: nodeHashProvider }) : prediction;
      const v = await verifyPcrSig(sig.data, key.data, { prediction: full, hash: nodeHashProvider });
      io.out(`pcrsig: ${v.verdict} (${v.entries.length} signature(s), key ${v.keyFingerprint})`);
      for (const r of v.reasons) io.out(`  ${r}`);
    } else if (sig) {
      io.out("pcrsig: present, but no .pcrpkey to check it with");
    }
    return 0;
  },
};
