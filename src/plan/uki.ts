/**
 * Plans from a unified kernel image: what systemd-stub would hand the
 * kernel, taken from the UKI's sections, so that a kexec plan boots the
 * same kernel, initrd, command line and device tree as the stub would, with
 * the envelope's signature verdict kept beside the plan.
 *
 * The rules are systemd-stub's (systemd 257, src/boot/stub.c `run()`; the
 * version trixie ships as `systemd-boot-efi`):
 * - **kernel**: `.linux` of the profile's effective set (VirtualSize bytes).
 * - **initrd**: the parts in the order of stub.c's list ("Add initrds in the
 *   right order"): the addons' `.ucode` in reverse order, the UKI's `.ucode`,
 *   the UKI's `.initrd`, the initrds the stub generates from the UKI's own
 *   sections (`.pcrsig`, `.pcrpkey`, `.osrel`, `.profile`, each wrapped by
 *   `pack_cpio_literal` as `/.extra/<name>`), then the addons' `.initrd`s.
 *   With more than one part, `combine_initrds` concatenates them, each
 *   zero-padded to a multiple of 4 ("some initrds (the ones from UKI
 *   sections) need padding, pad all to be safe": `ALIGN4`, the last one
 *   included); a single part is handed over as is, unpadded.
 *   The sidecar initrds the stub builds from files next to the UKI on the ESP
 *   (credentials, sysexts, confexts) are host facts a plan is not given.
 * - **cmdline**: the caller's, else `.cmdline` (`mangle_stub_cmdline`:
 *   leading and trailing whitespace dropped, every other control character
 *   a space); the addons' `.cmdline`s appended after it, each mangled, with
 *   one space.
 * - **dtb**: the chosen `.dtbauto` (matched against the first kernel's
 *   device tree, {@link chooseDtbauto}), else `.dtb`; an addon's
 *   `.dtbauto`/`.dtb` replaces it (installed after the UKI's, the last wins).
 *
 * @module
 */

import { parseCertificate } from "../cms/certificate.js";
import { KimageError, type Finding } from "../core/errors.js";
import { parseFdt } from "../fdt/parse.js";
import { findChild, getProp } from "../fdt/tree.js";
import { serializeFdt } from "../fdt/serialize.js";
import type { FdtNode } from "../fdt/spec.js";
import { chooseDtbauto, type DtbautoChoice, type DtbautoHost } from "../formats/pe/uki/dtb.js";
import { effectiveSections, readUki, sectionText, ukiSectionData, type EffectiveSection, type Uki } from "../formats/pe/uki/parse.js";
import { UKI_LAYER } from "../formats/pe/uki/spec.js";
import type { Verdict, VerdictReason } from "../signature/policy.js";
import { verifyUki, type UkiPartCoverage } from "../signature/uki.js";
import type { VerifyChainOptions } from "../signature/verify.js";
import { PLAN_LAYER } from "./core/allocator.js";
import { memoryMapFromFdt } from "./core/memory-parse.js";
import { planTableRow, type Plan, type PlanArch, type PlanRequest } from "./table.js";

/** One addon (`*.addon.efi`) the stub would load, with the name it sorts by. */
export interface UkiAddonInput {
  /** The file name (the stub sorts each directory's addons by it, `strcmp16`). */
  name: string;
  /** The addon PE's bytes. */
  bytes: Uint8Array;
  /** `global` (`\loader\addons`, loaded first) or `uki` (the UKI's own `<uki>.extra.d`, loaded after). Default `uki`. */
  scope?: "global" | "uki";
}

/** Options of {@link ukiPlanInputs}. */
export interface UkiPlanOptions {
  /** The profile (`@N` on the stub's command line); default 0, the implied first profile. */
  profile?: number;
  /** The caller's command line, in place of `.cmdline` (addons still append theirs, as the stub does). */
  cmdline?: string;
  /** The host facts a `.dtbauto` choice needs: the first kernel's DT, or its `compatible`, or the machine's CHIDs. */
  dtbauto?: DtbautoHost;
  /** Addons, in any order: sorted as the stub loads them (global first, then the UKI's, each by name). */
  addons?: readonly UkiAddonInput[];
  /**
   * Verification of the envelope (and of each addon): trust anchors, mode,
   * hash provider, as `verifyUki`. Without `trust` anchors the verdict is
   * computed all the same and says which anchors were missing.
   */
  verify?: VerifyChainOptions;
}

/** Where one part of the handed-over initrd comes from. */
export interface UkiInitrdPart {
  /** `.ucode`, `.initrd`, `.extra/os-release` (a generated cpio), or `addon:<name>:.initrd`. */
  source: string;
  /** Offset of the part in the combined initrd. */
  at: number;
  /** Its length (before padding). */
  length: number;
  /** Zero bytes appended after it (ALIGN4); 0 when it is the only part. */
  pad: number;
  /** Absolute offset of the section it was read from, in its own file (−1 for a generated cpio). */
  offset: number;
}

/** The envelope's verdict as a plan records it: never a bare boolean. */
export interface UkiEnvelopeVerdict {
  /** The Authenticode verdict of the UKI's own PE. */
  verdict: Verdict;
  reason: VerdictReason;
  detail: string;
  /** Subjects of the trust anchors given; empty when none were given. */
  anchors: string[];
  /**
   * When the verdict is not `valid` for want of a trusted anchor (or none
   * was given): the certificate issuers a trust anchor would have had to
   * match, from the signatures' SignerInfos.
   */
  missingAnchors: string[];
  /** Each signature's signer, issuer and verdict. */
  signatures: { signer: string | undefined; issuer: string | undefined; verdict: Verdict; reason: VerdictReason }[];
  /** Whether every part the plan uses lies within the envelope's hashed ranges. */
  partsCovered: boolean;
  /** The parts the plan uses that the envelope's digest does not cover. */
  uncovered: UkiPartCoverage[];
  /** The verdicts of the PEs inside (`.linux` may be signed on its own). */
  inner: { format: string; verdict: Verdict; reason: VerdictReason }[];
}

/** What a plan takes from a UKI. */
export interface UkiPlanInputs {
  /** The profile planned (0 when the UKI has none: the implied profile). */
  profile: number;
  /** `ID=`/`TITLE=` of the `.profile`, when the UKI has profiles. */
  profileId: string | null;
  profileTitle: string | null;
  /** `.linux`, VirtualSize bytes. */
  kernel: Uint8Array;
  /** The combined initrd; undefined when no part exists. */
  initrd: Uint8Array | undefined;
  /** Its parts, in order. */
  initrdParts: UkiInitrdPart[];
  /** The command line the kernel gets. */
  cmdline: string;
  /** Where it comes from. */
  cmdlineSource: "override" | ".cmdline" | "none";
  /** The device tree the UKI supplies (`.dtbauto`, `.dtb`, or an addon's), or null: the first kernel's is used. */
  dtb: { source: string; offset: number; bytes: Uint8Array; choice: DtbautoChoice | null } | null;
  /** `#### LoaderInfo: systemd-stub <version> ####` of the stub's `.sdmagic`, when present. */
  stub: string | null;
  /** The envelope's verdict. */
  envelope: UkiEnvelopeVerdict;
  /** Each addon used, with its own verdict, or why it was skipped. */
  addons: { name: string; scope: "global" | "uki"; used: boolean; why: string; verdict: Verdict | null }[];
  /** The UKI's findings. */
  findings: Finding[];
  /** Why each input is what it is. */
  notes: string[];
}

/** The systemd-stub major version whose rules {@link ukiPlanInputs} follows (trixie's). */
export const STUB_RULES = "257";

const enc = new TextEncoder();
const hex8 = (n: number) => n.toString(16).padStart(8, "0");
const align4 = (n: number) => (n + 3) & ~3;

/**
 * The command line as systemd-stub mangles it (src/boot/util.c,
 * `mangle_stub_cmdline`): stop at the first NUL, skip leading whitespace,
 * turn every other control character (≤ 0x20, 0x7f) into a space, chop the
 * trailing ones.
 */
export function mangleStubCmdline(text: string): string {
  const nul = text.indexOf("\0");
  const s = nul >= 0 ? text.slice(0, nul) : text;
  const ws = (c: number) => c <= 0x20 || c === 0x7f;
  let out = "";
  let end = 0;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!started && ws(c)) continue;
    started = true;
    if (ws(c)) out += " ";
    else {
      out += s[i];
      end = out.length;
    }
  }
  return out.slice(0, end);
}

function cpioHeader(ino: number, mode: number, size: number, nameSize: number, nlink = 1): string {
  return "070701" + [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameSize, 0].map(hex8).join("");
}

/**
 * The cpio archive systemd-stub's `pack_cpio_literal(data, ".extra", name,
 * 0555, 0444)` builds (src/boot/cpio.c): the directory `.extra` (inode 1,
 * mode 040555), the file `.extra/<name>` (inode 2, mode 0100444, mtime 0),
 * each header and content padded to 4 bytes from the archive's start, then
 * the stub's fixed `TRAILER!!!` record.
 */
export function stubCpioLiteral(name: string, data: Uint8Array): Uint8Array {
  const dirName = ".extra";
  const fileName = `${dirName}/${name}`;
  const dir = enc.encode(cpioHeader(1, 0o040555, 0, dirName.length + 1) + dirName + "\0");
  const dirLen = align4(dir.length);
  const file = enc.encode(cpioHeader(2, 0o100444, data.length, fileName.length + 1) + fileName + "\0");
  const fileHead = align4(dirLen + file.length);
  const dataEnd = align4(fileHead + data.length);
  const trailer = enc.encode(cpioHeader(0, 0, 0, 11) + "TRAILER!!!\0\0\0\0");
  const out = new Uint8Array(dataEnd + trailer.length);
  out.set(dir, 0);
  out.set(file, dirLen);
  out.set(data, fileHead);
  out.set(trailer, dataEnd);
  return out;
}

/**
 * Concatenates initrd parts as `combine_initrds` does: each part followed
 * by zeros up to a multiple of 4 (the last one too); a single part is
 * returned as is (the stub hands it over without combining).
 */
export function combineStubInitrds(parts: readonly { source: string; data: Uint8Array; offset: number }[]): { bytes: Uint8Array | undefined; parts: UkiInitrdPart[] } {
  if (parts.length === 0) return { bytes: undefined, parts: [] };
  if (parts.length === 1) {
    const p = parts[0] as (typeof parts)[number];
    return { bytes: p.data, parts: [{ source: p.source, at: 0, length: p.data.length, pad: 0, offset: p.offset }] };
  }
  const total = parts.reduce((n, p) => n + align4(p.data.length), 0);
  const out = new Uint8Array(total);
  const info: UkiInitrdPart[] = [];
  let at = 0;
  for (const p of parts) {
    out.set(p.data, at);
    info.push({ source: p.source, at, length: p.data.length, pad: align4(p.data.length) - p.data.length, offset: p.offset });
    at += align4(p.data.length);
  }
  return { bytes: out, parts: info };
}

/** The `.sdmagic` text of the stub ("#### LoaderInfo: systemd-stub 257.9-1 ####"), or null. */
function stubMagic(uki: Uki): string | null {
  const s = uki.sections.find((x) => x.name === ".sdmagic");
  if (!s) return null;
  const text = sectionText(uki.pe.bytes.subarray(s.PointerToRawData, s.PointerToRawData + s.fileSize));
  const m = /#### LoaderInfo: (.*?) ####/.exec(text);
  return m ? (m[1] as string) : null;
}

const pick = (set: EffectiveSection[], name: string) => set.find((e) => e.name === name);

/** Copies the first kernel's `/memory` nodes into a UKI device tree that has none (what the firmware's DT fixup does). */
function withFirstKernelMemory(ukiDtb: Uint8Array, firstDtb: Uint8Array | undefined, notes: string[]): Uint8Array {
  const fdt = parseFdt(ukiDtb);
  const isMemory = (n: FdtNode) => {
    const t = getProp(n, "device_type")?.value;
    return t !== undefined && new TextDecoder().decode(t).replace(/\0+$/, "") === "memory";
  };
  if (fdt.root.children.some(isMemory)) return ukiDtb;
  if (!firstDtb) {
    notes.push("the UKI's device tree has no /memory node and no first-kernel device tree was given to take one from");
    return ukiDtb;
  }
  const first = parseFdt(firstDtb);
  const mems = first.root.children.filter(isMemory);
  if (mems.length === 0) return ukiDtb;
  for (const m of mems) if (!findChild(fdt.root, m.name)) fdt.root.children.push(m);
  notes.push(`the UKI's device tree has no /memory node: ${mems.map((m) => `/${m.name}`).join(", ")} copied from the first kernel's, as the firmware's devicetree fixup adds it`);
  return serializeFdt(fdt);
}

function anchorSubjects(options: VerifyChainOptions | undefined): string[] {
  const out: string[] = [];
  for (const [i, t] of (options?.trust ?? []).entries()) {
    if (typeof t === "string") {
      out.push(`anchor ${i} (PEM)`);
      continue;
    }
    try {
      out.push(parseCertificate(t).subject);
    } catch (e) {
      if (!(e instanceof KimageError)) throw e;
      out.push(`anchor ${i} (unreadable: ${e.code})`);
    }
  }
  return out;
}

/**
 * What systemd-stub would hand the kernel from this UKI (see the module
 * comment for the rules), plus the envelope's verdict.
 *
 * @throws KimageError `unsupported` when the bytes are not a UKI (an addon
 *   cannot be planned), `bad-argument` when the profile does not exist or
 *   the effective set has no `.linux`; the PE errors of `readUki`.
 */
export async function ukiPlanInputs(bytes: Uint8Array, options: UkiPlanOptions = {}): Promise<UkiPlanInputs> {
  const uki = readUki(bytes);
  if (uki.kind !== "uki") throw new KimageError("unsupported", "a UKI addon holds no kernel: plan from the UKI and pass the addon with it", { layer: UKI_LAYER, offset: 0 });
  const profile = options.profile ?? 0;
  const notes: string[] = [];
  const choice = options.dtbauto ? chooseDtbauto(uki, options.dtbauto, uki.profiles.length > 0 ? profile : undefined) : null;
  const set = effectiveSections(uki, profile, { dtbauto: choice?.section ?? null });
  const linux = pick(set, ".linux");
  if (!linux) throw new KimageError("bad-argument", `profile ${profile} has no .linux section`, { layer: UKI_LAYER, offset: 0 });
  const prof = uki.profiles[profile];
  notes.push(
    uki.profiles.length > 0
      ? `profile ${profile}${prof?.id ? ` (ID=${prof.id}${prof.title ? `, TITLE=${prof.title}` : ""})` : ""} of ${uki.profiles.length}: the base's sections with the profile's own overriding them`
      : "the UKI has no .profile: the implied profile 0 (its base sections)",
  );
  notes.push(`kernel: .linux at 0x${linux.offset.toString(16)} (${linux.data.length} bytes, VirtualSize)`);

  // Addons, in the stub's order: global first, then the UKI's own, each sorted by name (strcmp16).
  const uname = pick(set, ".uname");
  const unameText = uname ? sectionText(uname.data) : null;
  const sorted = [...(options.addons ?? [])].map((a) => ({ ...a, scope: a.scope ?? "uki" })).sort((a, b) => (a.scope === b.scope ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.scope === "global" ? -1 : 1));
  const addons: UkiPlanInputs["addons"] = [];
  const addonCmdlines: string[] = [];
  const addonInitrds: { source: string; data: Uint8Array; offset: number }[] = [];
  const addonUcodes: { source: string; data: Uint8Array; offset: number }[] = [];
  let addonDtb: { source: string; offset: number; bytes: Uint8Array } | null = null;
  for (const a of sorted) {
    let ad: Uki;
    try {
      ad = readUki(a.bytes);
    } catch (e) {
      if (!(e instanceof KimageError)) throw e;
      addons.push({ name: a.name, scope: a.scope, used: false, why: `not a readable addon: ${e.code}`, verdict: null });
      continue;
    }
    if (ad.kind !== "addon") {
      addons.push({ name: a.name, scope: a.scope, used: false, why: "it is a UKI, not an addon (\"is a UKI, not an addon, ignoring\")", verdict: null });
      continue;
    }
    const aset = effectiveSections(ad);
    const au = pick(aset, ".uname");
    if (unameText !== null && au && sectionText(au.data) !== unameText) {
      addons.push({ name: a.name, scope: a.scope, used: false, why: `.uname ${JSON.stringify(sectionText(au.data))} differs from the UKI's (".uname mismatch between … and UKI, ignoring")`, verdict: null });
      continue;
    }
    const v = await verifyUki(a.bytes, options.verify ?? {});
    const c = pick(aset, ".cmdline");
    if (c) addonCmdlines.push(mangleStubCmdline(sectionText(c.data)));
    const ai = pick(aset, ".initrd");
    if (ai) addonInitrds.push({ source: `addon:${a.name}:.initrd`, data: ai.data, offset: ai.offset });
    const ac = pick(aset, ".ucode");
    if (ac) addonUcodes.push({ source: `addon:${a.name}:.ucode`, data: ac.data, offset: ac.offset });
    // load_addons: an addon's .dtbauto (its first, unmatched) is taken before its .dtb.
    const autoSec = ad.sections.find((s) => s.name === ".dtbauto");
    const adtb = autoSec ? { name: ".dtbauto", offset: autoSec.offset, data: ukiSectionData(ad, autoSec) } : pick(aset, ".dtb");
    if (adtb) addonDtb = { source: `addon:${a.name}:${adtb.name}`, offset: adtb.offset, bytes: adtb.data };
    addons.push({ name: a.name, scope: a.scope, used: true, why: [c && ".cmdline", ai && ".initrd", ac && ".ucode", adtb && adtb.name].filter(Boolean).join(" ") || "no section the stub reads", verdict: v.envelope.verdict });
  }

  // The initrd parts, in stub.c's order.
  const parts: { source: string; data: Uint8Array; offset: number }[] = [];
  parts.push(...addonUcodes.reverse());
  const ucode = pick(set, ".ucode");
  if (ucode) parts.push({ source: ".ucode", data: ucode.data, offset: ucode.offset });
  const initrd = pick(set, ".initrd");
  if (initrd) parts.push({ source: ".initrd", data: initrd.data, offset: initrd.offset });
  for (const [name, file] of [
    [".pcrsig", "tpm2-pcr-signature.json"],
    [".pcrpkey", "tpm2-pcr-public-key.pem"],
    [".osrel", "os-release"],
    [".profile", "profile"],
  ] as const) {
    const s = pick(set, name);
    if (s) parts.push({ source: `.extra/${file}`, data: stubCpioLiteral(file, s.data), offset: -1 });
  }
  parts.push(...addonInitrds);
  const combined = combineStubInitrds(parts);
  notes.push(
    combined.parts.length === 0
      ? "initrd: none (no .ucode, .initrd or section the stub wraps)"
      : `initrd: ${combined.parts.map((p) => `${p.source} (${p.length}${p.pad ? ` + ${p.pad} pad` : ""})`).join(", ")}${combined.parts.length > 1 ? ", concatenated as combine_initrds does (each zero-padded to 4 bytes)" : ", the only part, handed over unpadded"}`,
  );

  // The command line.
  const sec = pick(set, ".cmdline");
  let cmdline: string;
  let cmdlineSource: UkiPlanInputs["cmdlineSource"];
  if (options.cmdline !== undefined && mangleStubCmdline(options.cmdline) !== "") {
    cmdline = mangleStubCmdline(options.cmdline);
    cmdlineSource = "override";
    notes.push(`cmdline: the caller's, in place of ${sec ? ".cmdline" : "none"}${sec ? " (systemd-stub under Secure Boot would ignore a custom command line when the UKI has .cmdline)" : ""}`);
  } else if (sec) {
    cmdline = mangleStubCmdline(sectionText(sec.data));
    cmdlineSource = ".cmdline";
    notes.push(`cmdline: .cmdline at 0x${sec.offset.toString(16)}${sec.section.profile !== null ? ` (profile ${sec.section.profile}'s own)` : ""}`);
  } else {
    cmdline = "";
    cmdlineSource = "none";
    notes.push("cmdline: the UKI has no .cmdline and none was given");
  }
  for (const extra of addonCmdlines) if (extra !== "") cmdline = cmdline === "" ? extra : `${cmdline} ${extra}`;
  if (addonCmdlines.length > 0) notes.push(`cmdline: ${addonCmdlines.length} addon .cmdline(s) appended`);

  // The device tree.
  let dtb: UkiPlanInputs["dtb"] = null;
  const auto = pick(set, ".dtbauto");
  const plain = pick(set, ".dtb");
  const firstDtb = options.dtbauto?.firmwareDtb;
  const chosen = addonDtb ?? (auto ? { source: ".dtbauto", offset: auto.offset, bytes: auto.data } : plain ? { source: ".dtb", offset: plain.offset, bytes: plain.data } : null);
  let usable = chosen;
  if (chosen) {
    try {
      parseFdt(chosen.bytes);
    } catch (e) {
      if (!(e instanceof KimageError)) throw e;
      // devicetree_install_from_memory fails: "Error loading embedded devicetree, ignoring".
      notes.push(`dtb: ${chosen.source} is not a readable device tree (${e.code}); the stub ignores it ("Error loading embedded devicetree, ignoring"): the first kernel's is used`);
      usable = null;
    }
  }
  if (chosen && usable) {
    dtb = { ...usable, bytes: withFirstKernelMemory(usable.bytes, firstDtb, notes), choice };
    notes.push(`dtb: ${chosen.source} at 0x${chosen.offset.toString(16)}${auto && chosen.source === ".dtbauto" && choice ? ` (matched by ${choice.by}: ${JSON.stringify(choice.compatible)})` : ""}, in place of the first kernel's`);
  } else if (!chosen) {
    notes.push(`dtb: the UKI supplies none${uki.sections.some((s) => s.name === ".dtbauto") ? " that matches" : ""}: the first kernel's is used`);
  }

  // The envelope.
  const v = await verifyUki(bytes, options.verify ?? {});
  const anchors = anchorSubjects(options.verify);
  const used = new Set(set.map((e) => e.section.index));
  const uncovered = v.parts.filter((p) => used.has(p.index) && !p.covered);
  const missingAnchors =
    v.envelope.verdict === "valid" ? [] : [...new Set(v.envelope.signatures.filter((s) => s.reason === "no-trusted-anchor" || anchors.length === 0).map((s) => s.issuer).filter((x): x is string => x !== undefined))];
  const envelope: UkiEnvelopeVerdict = {
    verdict: v.envelope.verdict,
    reason: v.envelope.reason,
    detail: anchors.length === 0 && v.envelope.signatures.length > 0 ? `no trust anchor was given: ${v.envelope.detail}` : v.envelope.detail,
    anchors,
    missingAnchors,
    signatures: v.envelope.signatures.map((s) => ({ signer: s.signer, issuer: s.issuer, verdict: s.verdict, reason: s.reason })),
    partsCovered: uncovered.length === 0,
    uncovered,
    inner: v.inner.map((l) => ({ format: l.format, verdict: l.verdict.verdict, reason: l.verdict.reason })),
  };
  notes.push(`envelope: ${envelope.verdict} (${envelope.reason})${missingAnchors.length ? `; a trust anchor for ${missingAnchors.join("; ")} is missing` : ""}; the parts used are ${envelope.partsCovered ? "all" : "not all"} within its hashed ranges`);

  const stub = stubMagic(uki);
  const version = stub ? /^systemd-stub (\d+)/.exec(stub)?.[1] : undefined;
  if (version !== STUB_RULES) notes.push(`stub: ${stub ?? "no .sdmagic"}; the initrd order and cmdline rules followed are systemd-stub ${STUB_RULES}'s (other versions differ: no .ucode before 256, a previously registered initrd and a boot secret after 257)`);
  return {
    profile,
    profileId: prof?.id ?? null,
    profileTitle: prof?.title ?? null,
    kernel: linux.data,
    initrd: combined.bytes,
    initrdParts: combined.parts,
    cmdline,
    cmdlineSource,
    dtb,
    stub,
    envelope,
    addons,
    findings: v.findings,
    notes,
  };
}

/**
 * The plan request for a UKI's inputs: `kernel`, `initrd` and `cmdline`
 * from the UKI; its device tree (when it supplies one) in place of the first
 * kernel's, with the memory map still read from the first kernel's
 * (`/memory`, `/reserved-memory`, `/memreserve/`) unless `memory` is given.
 */
export function ukiPlanRequest(inputs: UkiPlanInputs, request: Omit<PlanRequest, "kernel" | "initrd" | "cmdline">): PlanRequest {
  const firstDtb = request.dtb;
  const memory = request.memory ?? (inputs.dtb && firstDtb ? memoryMapFromFdt(parseFdt(firstDtb)) : undefined);
  const dtb = inputs.dtb?.bytes ?? firstDtb;
  return {
    ...request,
    kernel: inputs.kernel,
    ...(inputs.initrd ? { initrd: inputs.initrd } : {}),
    cmdline: inputs.cmdline,
    ...(dtb ? { dtb } : {}),
    ...(memory ? { memory } : {}),
  };
}

/**
 * A plan from a UKI, the library form of `kimage plan --kernel uki.efi
 * [--profile N]`: {@link ukiPlanInputs} (the first kernel's DT in
 * `request.dtb` also chooses the `.dtbauto`), then the arch's plan with
 * {@link ukiPlanRequest}; the UKI's notes lead the plan's.
 *
 * @throws KimageError `bad-argument` for an unknown arch, the errors of
 *   {@link ukiPlanInputs} and of the arch's plan.
 */
export async function planFromUki(arch: PlanArch, uki: Uint8Array, request: Omit<PlanRequest, "kernel" | "initrd" | "cmdline">, options: UkiPlanOptions = {}): Promise<{ plan: Plan; uki: UkiPlanInputs }> {
  const row = planTableRow(arch);
  if (!row) throw new KimageError("bad-argument", `no plan for arch ${JSON.stringify(arch)}`, { layer: PLAN_LAYER, offset: -1 });
  const inputs = await ukiPlanInputs(uki, { ...(request.dtb && !options.dtbauto ? { dtbauto: { firmwareDtb: request.dtb } } : {}), ...options });
  const plan = await row.plan(ukiPlanRequest(inputs, request));
  return { plan: { ...plan, notes: [...inputs.notes.map((n) => `UKI ${n}`), ...plan.notes] } as Plan, uki: inputs };
}
