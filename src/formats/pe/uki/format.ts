/**
 * The `uki` entry of the probe table: a layer after the `pe` layer of a PE
 * whose sections include `.linux` (or, for an addon, only addon sections).
 * It lists the sections with their role, size, SHA-256 and offset, the
 * `.osrel`, `.uname`, `.cmdline` and `.sbat` texts, the profiles and the
 * `.dtbauto`/`.hwids` entries, and hands `.linux` (of profile 0, or the
 * base) to the next layer, so the kernel's own layers follow as for any
 * kernel.
 *
 * @module
 */

import { toHex } from "../../../core/bytes.js";
import { isKimageError } from "../../../core/errors.js";
import { defaultHashProvider } from "../../../hash/index.js";
import { withHeader } from "../../../format/layer.js";
import type { FormatModule, JsonValue, Layer } from "../../../format/types.js";
import { parsePe, probePe, type PeFile } from "../parse.js";
import { dtbCompatible, parseHwids } from "./dtb.js";
import { effectiveSections, isUkiAddonPe, isUkiPe, parseOsRelease, parseUki, sectionText, ukiSectionData, type Uki, type UkiSection } from "./parse.js";
import { UKI_LAYER, isUnifiedSection } from "./spec.js";

const TEXT_SECTIONS = new Set([".osrel", ".uname", ".cmdline", ".sbat", ".profile", ".pcrsig", ".pcrpkey"]);

function textOf(uki: Uki, name: string, profile: number | null = null): string | null {
  const s = uki.sections.find((x) => x.name === name && x.profile === profile);
  return s ? sectionText(ukiSectionData(uki, s)) : null;
}

/** True when `bytes` is a PE that is a UKI or a UKI addon. Never throws. */
export function probeUki(bytes: Uint8Array): boolean {
  if (!probePe(bytes)) return false;
  try {
    const pe = parsePe(bytes);
    return isUkiPe(pe) || isUkiAddonPe(pe);
  } catch {
    return false;
  }
}

async function sectionJson(uki: Uki, s: UkiSection): Promise<{ [key: string]: JsonValue }> {
  const out: { [key: string]: JsonValue } = {
    index: s.index,
    name: s.name,
    role: s.role,
    profile: s.profile,
    offset: s.offset,
    size: s.VirtualSize,
    fileSize: s.fileSize,
    zeroFill: s.zeroFill,
  };
  if (isUnifiedSection(s.name)) {
    const data = ukiSectionData(uki, s);
    out.sha256 = toHex(await defaultHashProvider().digest("sha256", [data]));
    if (TEXT_SECTIONS.has(s.name)) out.text = sectionText(data);
    if (s.name === ".dtbauto" || s.name === ".dtb") out.compatible = dtbCompatible(data);
  }
  return out;
}

/** Builds the JSON-ready `uki` layer of a parsed UKI; its typed header is the {@link Uki}. */
export async function ukiLayer(uki: Uki, offset: number): Promise<Layer<Uki>> {
  const findings = [...uki.findings];
  const sections: JsonValue[] = [];
  for (const s of uki.sections) sections.push(await sectionJson(uki, s));
  const osrelText = textOf(uki, ".osrel");
  const hw = uki.sections.filter((s) => s.name === ".hwids");
  const hwids: JsonValue[] = [];
  for (const s of hw) {
    try {
      for (const d of parseHwids(ukiSectionData(uki, s), s.offset)) hwids.push({ section: s.index, chid: d.chid, name: d.name, compatible: d.compatible });
    } catch (e) {
      if (!isKimageError(e)) throw e;
      findings.push({ code: "uki-bad-hwids", severity: "warning", offset: e.offset, message: `section ${s.index} (.hwids): ${e.message}` });
    }
  }
  const profiles: JsonValue[] = uki.profiles.map((p) => ({
    index: p.index,
    id: p.id,
    title: p.title,
    metadata: p.metadata,
    sections: effectiveSections(uki, p.index).map((e) => ({ name: e.name, index: e.section.index })),
  }));
  const fields: { [key: string]: JsonValue } = {
    kind: uki.kind,
    sections,
    osrel: osrelText === null ? null : parseOsRelease(osrelText),
    uname: textOf(uki, ".uname"),
    cmdline: textOf(uki, ".cmdline"),
    sbat: textOf(uki, ".sbat"),
    base: uki.base.filter((s) => isUnifiedSection(s.name)).map((s) => s.index),
    profiles,
    dtbauto: uki.sections.filter((s) => s.name === ".dtbauto").map((s) => ({ index: s.index, profile: s.profile, compatible: dtbCompatible(ukiSectionData(uki, s)) })),
    hwids,
  };
  const parts = uki.sections.filter((s) => isUnifiedSection(s.name)).map((s) => s.name);
  const summary = uki.kind === "uki"
    ? `unified kernel image: ${parts.join(" ")}${uki.profiles.length > 0 ? `, ${uki.profiles.length} profile(s)` : ""}`
    : `UKI addon: ${parts.join(" ")}`;
  const layer: Layer = { format: UKI_LAYER, offset, size: uki.pe.bytes.length, summary, fields, findings };
  if (uki.kind === "uki") {
    const linux = effectiveSections(uki, uki.profiles.length > 0 ? 0 : undefined).find((e) => e.name === ".linux");
    if (linux && linux.data.length > 0) layer.payload = { bytes: linux.data, offset: linux.section.zeroFill === 0 ? linux.offset : -1 };
  }
  return withHeader(layer, uki);
}

/**
 * The UKI format module: after the `pe` layer of a UKI (the `pe` layer
 * hands the same bytes on), it reads the sections as systemd-stub does and
 * hands `.linux` on. Its layers carry the {@link Uki}.
 */
export const ukiFormat: FormatModule<Uki> = {
  id: UKI_LAYER,
  description: "unified kernel image (systemd-stub + .linux, .initrd, .cmdline…) or UKI addon",
  probe: probeUki,
  parse(bytes, ctx) {
    const pe: PeFile = parsePe(bytes, { base: Math.max(ctx.offset, 0) });
    return ukiLayer(parseUki(pe), ctx.offset);
  },
};
