/**
 * Building a UKI the way ukify lays it out: systemd-stub's PE with one new
 * section per part appended after the stub's last section.
 *
 * Source: systemd `src/ukify/ukify.py` (systemd 257), `pe_add_sections()`,
 * `make_uki()`, `merge_sbat()` and `join_initrds()`:
 * - an unsigned stub only ("Stub image is signed, refusing.");
 * - a symbol table at the end of the stub is dropped ("Old stubs do not have
 *   the symbol/string table stripped");
 * - each section's raw data is moved to FileAlignment, and SizeOfHeaders is
 *   rounded up to it ("try our best to make some space");
 * - each part gets a section header after the last one ("Not enough header
 *   space to add section"), `VirtualSize` = its length, `PointerToRawData` =
 *   the file length rounded up to FileAlignment, `SizeOfRawData` = its length
 *   rounded up to FileAlignment, `VirtualAddress` = the previous section's
 *   VirtualAddress + VirtualSize rounded up to SectionAlignment;
 *   characteristics MEM_READ and CNT_CODE for `.linux`, CNT_INITIALIZED_DATA
 *   otherwise; SizeOfInitializedData grows by each VirtualSize;
 * - a part whose name the stub already has (`.sbat`) replaces that section's
 *   data in place ("just swap the data"), within its SizeOfRawData;
 * - `.linux` without NX_COMPAT clears NX_COMPAT on the UKI ("they need to
 *   have the same value");
 * - the order: .osrel, .cmdline, .dtb, .dtbauto…, .hwids, .uname, .splash,
 *   .pcrpkey, .linux, .initrd, .ucode, then .sbat (the stub's and the
 *   kernel's SBAT entries plus the given ones, under one "sbat," header line,
 *   NUL-terminated);
 * - CheckSum = 0; SizeOfImage = the last section's VirtualAddress +
 *   VirtualSize rounded up to SectionAlignment.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { parsePe, probePe, type PeFile } from "../formats/pe/parse.js";
import { DLL_CHARACTERISTICS, FILE_CHARACTERISTICS, SECTION_CHARACTERISTICS, SECTION_HEADER_SIZE } from "../formats/pe/spec.js";
import { UKI_LAYER } from "./sections.js";
import { guessUname } from "./uname.js";

/** The SBAT header line ukify writes first. */
export const SBAT_HEADER = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md";

/** ukify's default SBAT text for a UKI (`STUB_SBAT`). */
export const UKI_SBAT = `${SBAT_HEADER}\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n`;

/** ukify's default SBAT text for an addon or profile PE built without a kernel (`ADDON_SBAT`). */
export const ADDON_SBAT = `${SBAT_HEADER}\nuki-addon,1,UKI Addon,addon,1,https://www.freedesktop.org/software/systemd/man/latest/systemd-stub.html\n`;

/** The sections ukify copies from a `--join-profile` PE (`to_import`; `.osrel` only when the UKI has one). */
export const PROFILE_IMPORTS = [".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".profile"] as const;

/** The parts of a UKI; each present one becomes a section. */
export interface UkiParts {
  /**
   * The kernel (`.linux`). Absent: an addon or a profile PE (built on the
   * addon stub), with ukify's addon SBAT and no stub SBAT merged in.
   */
  linux?: Uint8Array;
  /**
   * The `.profile` text (ID=…, TITLE=…). Without `joinProfiles` it is the
   * first section (a profile PE); with them, the base profile's, after
   * `.sbat` ("has to be the last one so that everything before it is shared
   * between profiles").
   */
  profile?: Uint8Array;
  /**
   * Profile PEs (built with `profile` and no kernel), joined in order: their
   * `.profile` and the sections ukify imports ({@link PROFILE_IMPORTS}). With
   * them and no `profile`, the base profile is `ID=main` as in ukify.
   */
  joinProfiles?: readonly Uint8Array[];
  /** os-release text (`.osrel`). */
  osrel?: Uint8Array;
  /** Kernel command line (`.cmdline`). */
  cmdline?: Uint8Array;
  /** Device tree (`.dtb`). */
  dtb?: Uint8Array;
  /** Device trees for automatic selection (one `.dtbauto` each). */
  dtbauto?: readonly Uint8Array[];
  /** HWID table (`.hwids`). */
  hwids?: Uint8Array;
  /**
   * `uname -r` of the kernel (`.uname`). Absent: guessed from the kernel as
   * ukify does ({@link guessUname}); null: none.
   */
  uname?: Uint8Array | null;
  /** Boot splash BMP (`.splash`). */
  splash?: Uint8Array;
  /** PEM public key for PCR signatures (`.pcrpkey`). */
  pcrpkey?: Uint8Array;
  /** initrds, joined as ukify does: each padded with zeros to 4 bytes when there are several (`.initrd`). */
  initrd?: readonly Uint8Array[];
  /** Microcode initrd (`.ucode`). */
  ucode?: Uint8Array;
  /**
   * SBAT texts, each starting with an `sbat,` line (default {@link UKI_SBAT});
   * merged with the stub's and the kernel's `.sbat` entries. `null`: no `.sbat`.
   */
  sbat?: readonly string[] | null;
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;
const bad = (message: string, offset = -1): never => {
  throw new KimageError("bad-argument", message, { layer: UKI_LAYER, offset });
};

/** The SBAT entries (lines after the `sbat,` header) of a PE's `.sbat`, or [] (ukify `merge_sbat`). */
function peSbatLines(pe: PeFile): string[] {
  const s = pe.sections.find((x) => x.ShortName === ".sbat");
  if (!s) return [];
  let raw = pe.bytes.subarray(s.PointerToRawData, s.PointerToRawData + s.SizeOfRawData);
  let end = raw.length;
  while (end > 0 && raw[end - 1] === 0) end--;
  raw = raw.subarray(0, end);
  const lines = new TextDecoder().decode(raw).split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines[0]?.startsWith("sbat,") ? lines.slice(1) : [];
}

/**
 * The merged `.sbat` text: ukify's header line, the stub's entries, the
 * kernel's, then the given texts' (each without its own header), joined by
 * newlines, then "\n\0".
 */
export function mergeSbat(stub: PeFile | null, linux: PeFile | null, texts: readonly string[]): Uint8Array {
  const lines = [...(stub ? peSbatLines(stub) : []), ...(linux ? peSbatLines(linux) : [])];
  for (const t of texts) {
    const l = t.split(/\r?\n/);
    if (l.at(-1) === "") l.pop(); // Python's splitlines(): no empty last line
    if (!l[0]?.startsWith("sbat,")) bad(`an SBAT text must start with an "sbat," line: ${JSON.stringify(t.slice(0, 40))}`);
    lines.push(...l.slice(1));
  }
  return new TextEncoder().encode(`${SBAT_HEADER}\n${lines.join("\n")}\n\0`);
}

/** ukify `join_initrds`: one as is; several each padded to 4 bytes. */
export function joinInitrds(initrds: readonly Uint8Array[]): Uint8Array | undefined {
  if (initrds.length === 0) return undefined;
  if (initrds.length === 1) return initrds[0];
  const out = new Uint8Array(initrds.reduce((n, i) => n + roundUp(i.length, 4), 0));
  let at = 0;
  for (const i of initrds) {
    out.set(i, at);
    at += roundUp(i.length, 4);
  }
  return out;
}

/**
 * The sections ukify copies from a profile PE, in its table order, each
 * `min(VirtualSize, SizeOfRawData)` bytes (`pe_section_size`); the first of
 * them must be its only `.profile` ("Expected .profile section as first
 * valid section in PE profile binary").
 */
function profileImports(bytes: Uint8Array, index: number, withOsrel: boolean): Array<[string, Uint8Array]> {
  const pe = parsePe(bytes);
  const names = PROFILE_IMPORTS.filter((n) => withOsrel || n !== ".osrel") as readonly string[];
  const wanted = pe.sections.filter((s) => names.includes(s.ShortName));
  if (wanted.length === 0) bad(`profile PE ${index}: no section a profile carries (${names.join(" ")})`);
  if (wanted[0]?.ShortName !== ".profile") bad(`profile PE ${index}: its first section of those is ${wanted[0]?.ShortName}, not .profile (build it with a .profile and no kernel)`);
  if (wanted.filter((s) => s.ShortName === ".profile").length > 1) bad(`profile PE ${index} has more than one .profile`);
  return wanted.map((s): [string, Uint8Array] => {
    const n = Math.min(s.VirtualSize, s.SizeOfRawData);
    return [s.ShortName, bytes.subarray(s.PointerToRawData, s.PointerToRawData + n)];
  });
}

/** One section of the image being built. */
interface Sec {
  name: string;
  VirtualSize: number;
  VirtualAddress: number;
  SizeOfRawData: number;
  PointerToRawData: number;
  Characteristics: number;
  /** Offset of its 40-byte header. */
  headerOffset: number;
  /** The header's other fields, kept from the stub (relocations, line numbers). */
  rest: Uint8Array;
  /** The stub's own 8-byte name field, written back as it was. */
  rawName?: Uint8Array;
}

/**
 * Builds a UKI from systemd-stub (`stub`, unsigned) and `parts`, laid out
 * as ukify lays it out (see the module documentation). The result is
 * unsigned; sign it with `signAuthenticode`.
 *
 * @throws KimageError `bad-argument` for a signed stub, a stub without room
 *   for the section headers, or an SBAT text without its `sbat,` line; the
 *   `pe-*` codes of `parsePe` for a stub that is no PE.
 */
export function buildUki(stub: Uint8Array, parts: UkiParts): Uint8Array {
  const pe = parsePe(stub);
  if (pe.certificateTable) bad("the stub is signed; ukify refuses it too (\"Stub image is signed, refusing.\")");
  const o = pe.layout.optionalHeader;
  const fa = pe.optional.FileAlignment;
  const sa = pe.optional.SectionAlignment;
  // PE spec, FileAlignment: "The value should be a power of 2 between 512 and 64 K"; kimage allows
  // smaller powers of two but never more (the padding it would write grows with it).
  if (fa === 0 || sa === 0 || (fa & (fa - 1)) !== 0 || (sa & (sa - 1)) !== 0 || fa > 0x10000) bad(`the stub's FileAlignment 0x${fa.toString(16)} / SectionAlignment 0x${sa.toString(16)} are not powers of two (FileAlignment at most 64 KiB)`, o + 32);
  let data = stub.slice();
  const view = () => new DataView(data.buffer, data.byteOffset, data.byteLength);

  // "Old stubs do not have the symbol/string table stripped": drop it when it ends the file.
  const coff = pe.layout.coffHeader;
  if (pe.coff.PointerToSymbolTable !== 0) {
    let size = 18 * pe.coff.NumberOfSymbols;
    const st = pe.coff.PointerToSymbolTable + size;
    if (st + 4 <= data.length) size += view().getUint32(st, true);
    if (pe.coff.PointerToSymbolTable + size === data.length) {
      data = data.slice(0, pe.coff.PointerToSymbolTable);
      view().setUint32(coff + 8, 0, true);
      view().setUint32(coff + 12, 0, true);
      view().setUint16(coff + 18, pe.coff.Characteristics | FILE_CHARACTERISTICS.LOCAL_SYMS_STRIPPED, true);
    }
  }

  const secs: Sec[] = pe.sections.map((s) => ({
    name: s.ShortName,
    VirtualSize: s.VirtualSize,
    VirtualAddress: s.VirtualAddress,
    SizeOfRawData: s.SizeOfRawData,
    PointerToRawData: s.PointerToRawData,
    Characteristics: s.Characteristics,
    headerOffset: s.headerOffset,
    rest: stub.slice(s.headerOffset + 24, s.headerOffset + 36),
    rawName: stub.slice(s.headerOffset, s.headerOffset + 8),
  }));
  // "Old stubs might have been stripped, leading to unaligned raw data values": align them.
  for (const [i, s] of secs.entries()) {
    const oldp = s.PointerToRawData;
    const oldsz = s.SizeOfRawData;
    s.PointerToRawData = roundUp(oldp, fa);
    s.SizeOfRawData = roundUp(oldsz, fa);
    const padp = s.PointerToRawData - oldp;
    const padsz = s.SizeOfRawData - oldsz;
    if (padp === 0 && padsz === 0) continue;
    for (const later of secs.slice(i + 1)) later.PointerToRawData += padp + padsz;
    const grown = new Uint8Array(data.length + padp + padsz);
    grown.set(data.subarray(0, oldp));
    grown.set(data.subarray(oldp, oldp + oldsz), oldp + padp);
    grown.set(data.subarray(oldp + oldsz), oldp + padp + oldsz + padsz);
    data = grown;
  }
  const sizeOfHeaders = roundUp(pe.optional.SizeOfHeaders, fa);
  let dll = pe.optional.DllCharacteristics;
  let initialized = pe.optional.SizeOfInitializedData;
  const nOriginal = secs.length;

  let linuxPe: PeFile | null = null;
  if (parts.linux && probePe(parts.linux)) {
    try {
      linuxPe = parsePe(parts.linux);
    } catch {
      linuxPe = null; // ukify: "is not a valid PE, ignoring"
    }
  }
  const joins = parts.joinProfiles ?? [];
  // make_uki: "if opts.uname is None and linux is not None: opts.uname = Uname.scrape(linux)".
  const guessed = parts.uname === undefined && parts.linux ? guessUname(parts.linux) : null;
  const uname = parts.uname ?? (guessed !== null ? new TextEncoder().encode(guessed) : undefined);
  const profile = parts.profile ?? (joins.length > 0 ? new TextEncoder().encode("ID=main") : undefined);
  const list: Array<[string, Uint8Array | undefined]> = [];
  // "If we're building a PE profile binary, the .profile section has to be the first one."
  if (profile && joins.length === 0) list.push([".profile", profile]);
  list.push(
    [".osrel", parts.osrel],
    [".cmdline", parts.cmdline],
    [".dtb", parts.dtb],
    ...(parts.dtbauto ?? []).map((d): [string, Uint8Array] => [".dtbauto", d]),
    [".hwids", parts.hwids],
    [".uname", uname],
    [".splash", parts.splash],
    [".pcrpkey", parts.pcrpkey],
    [".linux", parts.linux],
    [".initrd", joinInitrds(parts.initrd ?? [])],
    [".ucode", parts.ucode],
  );
  // "Don't add a sbat section to profile PE binaries."; addons get ukify's addon SBAT, without the stub's.
  if (parts.sbat !== null && (joins.length > 0 || !profile)) {
    list.push([".sbat", parts.linux ? mergeSbat(pe, linuxPe, parts.sbat ?? [UKI_SBAT]) : mergeSbat(null, null, parts.sbat ?? [ADDON_SBAT])]);
  }
  if (profile && joins.length > 0) list.push([".profile", profile]);
  for (const [i, join] of joins.entries()) list.push(...profileImports(join, i, parts.osrel !== undefined));

  // Appended raw data, in order, after the (aligned) stub.
  const tail: Array<{ at: number; bytes: Uint8Array }> = [];
  let fileEnd = data.length;
  for (const [name, bytes] of list) {
    // ukify adds a part only when it has content ("if content:").
    if (!bytes || bytes.length === 0) continue;
    const last = secs[secs.length - 1] as Sec;
    const headerOffset = last.headerOffset + SECTION_HEADER_SIZE;
    if (headerOffset + SECTION_HEADER_SIZE > sizeOfHeaders) bad(`not enough header space to add section ${name} (SizeOfHeaders 0x${sizeOfHeaders.toString(16)})`, o + 60);
    if (name === ".linux" && linuxPe && (linuxPe.optional.DllCharacteristics & DLL_CHARACTERISTICS.NX_COMPAT) === 0) dll &= ~DLL_CHARACTERISTICS.NX_COMPAT;
    const same = secs.slice(0, nOriginal).findIndex((s) => s.name === name && name !== ".dtbauto");
    if (same >= 0) {
      // "just swap the data": in place, within the section's raw size.
      const s = secs[same] as Sec;
      if (bytes.length > s.SizeOfRawData) bad(`not enough space in the stub's ${name} (0x${s.SizeOfRawData.toString(16)} bytes) for 0x${bytes.length.toString(16)} bytes`);
      data.fill(0, s.PointerToRawData, s.PointerToRawData + s.SizeOfRawData);
      data.set(bytes, s.PointerToRawData);
      s.VirtualSize = bytes.length;
      continue;
    }
    const sec: Sec = {
      name,
      VirtualSize: bytes.length,
      VirtualAddress: roundUp(last.VirtualAddress + last.VirtualSize, sa),
      SizeOfRawData: roundUp(bytes.length, fa),
      PointerToRawData: roundUp(fileEnd, fa),
      Characteristics: SECTION_CHARACTERISTICS.MEM_READ | (name === ".linux" ? SECTION_CHARACTERISTICS.CNT_CODE : SECTION_CHARACTERISTICS.CNT_INITIALIZED_DATA),
      headerOffset,
      rest: new Uint8Array(12),
    };
    if (sec.VirtualAddress + sec.VirtualSize > 0xffffffff || sec.PointerToRawData + sec.SizeOfRawData > 0xffffffff) bad(`section ${name} would end past 4 GiB (VirtualAddress 0x${sec.VirtualAddress.toString(16)}, file offset 0x${sec.PointerToRawData.toString(16)})`);
    secs.push(sec);
    tail.push({ at: sec.PointerToRawData, bytes });
    fileEnd = sec.PointerToRawData + sec.SizeOfRawData;
    initialized += bytes.length;
  }

  const out = new Uint8Array(fileEnd);
  out.set(data);
  for (const t of tail) out.set(t.bytes, t.at);
  const v = new DataView(out.buffer);
  const last = secs[secs.length - 1] as Sec;
  v.setUint16(coff + 2, secs.length, true); // NumberOfSections
  v.setUint32(o + 8, initialized >>> 0, true); // SizeOfInitializedData
  v.setUint32(o + 56, roundUp(last.VirtualAddress + last.VirtualSize, sa), true); // SizeOfImage
  v.setUint32(o + 60, sizeOfHeaders, true); // SizeOfHeaders
  v.setUint32(o + 64, 0, true); // CheckSum: ukify writes 0
  v.setUint16(o + 70, dll, true); // DllCharacteristics
  for (const s of secs) {
    const h = s.headerOffset;
    out.fill(0, h, h + 8);
    out.set(s.rawName ?? new TextEncoder().encode(s.name).subarray(0, 8), h);
    v.setUint32(h + 8, s.VirtualSize, true);
    v.setUint32(h + 12, s.VirtualAddress, true);
    v.setUint32(h + 16, s.SizeOfRawData, true);
    v.setUint32(h + 20, s.PointerToRawData, true);
    out.set(s.rest, h + 24);
    v.setUint32(h + 36, s.Characteristics >>> 0, true);
  }
  return out;
}
