/**
 * Deterministic synthetic PE/COFF image builder for tests.
 *
 * `buildPe` produces a small PE image (valid by default) with no timestamps
 * and no randomness, together with a map of where every interesting field
 * lives, so that mutation tests can change exactly one field and check that
 * the parser under test notices.
 *
 * Layout produced (in file order):
 *
 * 1. DOS header (`MZ`, `e_lfanew` at 0x3c) and, when there is room, the
 *    classic "This program cannot be run in DOS mode" stub;
 * 2. `PE\0\0` signature at `e_lfanew`;
 * 3. COFF file header (20 bytes, TimeDateStamp = 0, no symbols);
 * 4. optional header (PE32 or PE32+) with `NumberOfRvaAndSizes` data
 *    directories;
 * 5. section table (40 bytes per section) at optional header +
 *    `SizeOfOptionalHeader`;
 * 6. zero padding up to `SizeOfHeaders` (headers rounded to FileAlignment);
 * 7. raw data of each section, in order, each rounded to FileAlignment
 *    (or at an overridden `PointerToRawData`);
 * 8. the optional trailer ("remaining data" for Authenticode);
 * 9. optional zero padding to a multiple of 8;
 * 10. the optional attribute certificate table (`WIN_CERTIFICATE` entries,
 *     each padded to 8 bytes), referenced by data directory 4.
 *
 * Finally the PE CheckSum is computed over the whole file (unless
 * overridden).
 *
 * This module deliberately imports nothing from `src/` so that it can be
 * used as an independent reference for the library's own parser.
 *
 * @packageDocumentation
 */

/** `IMAGE_FILE_MACHINE_I386`. */
export const MACHINE_I386 = 0x014c;
/** `IMAGE_FILE_MACHINE_ARMNT` (Thumb-2, 32-bit ARM). */
export const MACHINE_ARMNT = 0x01c4;
/** `IMAGE_FILE_MACHINE_THUMB` (used by 32-bit ARM Linux EFI stubs). */
export const MACHINE_THUMB = 0x01c2;
/** `IMAGE_FILE_MACHINE_AMD64`. */
export const MACHINE_AMD64 = 0x8664;
/** `IMAGE_FILE_MACHINE_ARM64`. */
export const MACHINE_ARM64 = 0xaa64;
/** `IMAGE_FILE_MACHINE_RISCV64`. */
export const MACHINE_RISCV64 = 0x5064;
/** `IMAGE_FILE_MACHINE_LOONGARCH64`. */
export const MACHINE_LOONGARCH64 = 0x6264;

/** `IMAGE_SUBSYSTEM_EFI_APPLICATION`. */
export const SUBSYSTEM_EFI_APPLICATION = 10;

/** Section characteristics of a typical code section (CODE | EXECUTE | READ). */
export const SCN_TEXT = 0x60000020;
/** Section characteristics of a typical initialised-data section (INITIALIZED_DATA | READ | WRITE). */
export const SCN_DATA = 0xc0000040;
/** Section characteristics of a read-only initialised-data section (INITIALIZED_DATA | READ). */
export const SCN_RDATA = 0x40000040;
/** `IMAGE_SCN_CNT_CODE`. */
export const SCN_CNT_CODE = 0x00000020;
/** `IMAGE_SCN_CNT_INITIALIZED_DATA`. */
export const SCN_CNT_INITIALIZED_DATA = 0x00000040;
/** `IMAGE_SCN_CNT_UNINITIALIZED_DATA`. */
export const SCN_CNT_UNINITIALIZED_DATA = 0x00000080;

/** `WIN_CERT_REVISION_2_0`. */
export const WIN_CERT_REVISION_2_0 = 0x0200;
/** `WIN_CERT_TYPE_PKCS_SIGNED_DATA`. */
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

/** Index of the certificate table in the optional header's data directories. */
export const DIRECTORY_ENTRY_SECURITY = 4;

/** One section of a {@link PeSpec}. */
export interface SectionSpec {
  /** Section name, at most 8 bytes of ASCII (e.g. `.text`). */
  name: string;
  /**
   * Raw contents, or a length for which deterministic filler bytes are
   * generated (see {@link filler}). The raw data is zero-padded to
   * FileAlignment; a length of 0 gives `SizeOfRawData = 0` and
   * `PointerToRawData = 0` (like `.bss`).
   */
  data: Uint8Array | number;
  /** `VirtualSize`; defaults to the unpadded data length. */
  virtualSize?: number;
  /** `Characteristics`; defaults to {@link SCN_TEXT} for `.text`, {@link SCN_DATA} otherwise. */
  characteristics?: number;
  /**
   * Override of `PointerToRawData`, to create gaps or overlaps. The data is
   * written there; bytes in a gap are zero; with overlaps, later sections
   * overwrite earlier ones.
   */
  pointerToRawData?: number;
  /** Seed for the filler when `data` is a number; defaults to a value derived from the section index. */
  seed?: number;
}

/** One `WIN_CERTIFICATE` entry of a {@link PeSpec}. */
export interface CertificateSpec {
  /** `wRevision`; default {@link WIN_CERT_REVISION_2_0}. */
  revision?: number;
  /** `wCertificateType`; default {@link WIN_CERT_TYPE_PKCS_SIGNED_DATA}. */
  type?: number;
  /** `bCertificate`, e.g. DER-encoded PKCS#7 SignedData. */
  content: Uint8Array;
  /** Override of `dwLength`; default `8 + content.length`. The entry's padding is always computed from the real length. */
  dwLength?: number;
}

/** Description of a synthetic PE image; every property is optional. */
export interface PeSpec {
  /** Optional-header flavour; default `"pe32+"`. */
  format?: "pe32" | "pe32+";
  /** COFF `Machine`; default {@link MACHINE_AMD64}. */
  machine?: number;
  /** COFF `Characteristics`; default 0x0206 (EXECUTABLE_IMAGE | LINE_NUMS_STRIPPED | DEBUG_STRIPPED). */
  characteristics?: number;
  /** Optional-header `Subsystem`; default {@link SUBSYSTEM_EFI_APPLICATION}. */
  subsystem?: number;
  /** Optional-header `DllCharacteristics`; default 0. */
  dllCharacteristics?: number;
  /** `ImageBase`; default 0x400000 (PE32) or 0x140000000 (PE32+). */
  imageBase?: number | bigint;
  /** `FileAlignment`; default 0x200. */
  fileAlignment?: number;
  /** `SectionAlignment`; default 0x1000. */
  sectionAlignment?: number;
  /** `NumberOfRvaAndSizes`; default 16. Also the number of data directories written. */
  numberOfRvaAndSizes?: number;
  /**
   * Override of `SizeOfOptionalHeader`; default is the exact size
   * (96 or 112 + 8 * NumberOfRvaAndSizes). The section table is placed at
   * optional header + this value, so a smaller value makes the section table
   * overwrite the last data directories and a larger one leaves a zero gap.
   */
  sizeOfOptionalHeader?: number;
  /** Offset of the `PE\0\0` signature; default 0x80. Must be at least 0x40. */
  e_lfanew?: number;
  /** Override of `AddressOfEntryPoint`; default is the RVA of the first code section (or the first section). */
  addressOfEntryPoint?: number;
  /** Sections in file order; default `.text` (0x180 filler bytes) and `.data` (0x90 filler bytes). */
  sections?: SectionSpec[];
  /** Extra bytes after the last section and before any certificate table ("remaining data"). */
  trailer?: Uint8Array;
  /** Attribute certificate table entries; when present data directory 4 points at the table. */
  certificates?: CertificateSpec[];
  /**
   * Zero-pad the file to a multiple of 8 before the certificate table (as
   * sbsign does). Default: `true` when `certificates` is given, `false`
   * otherwise. With certificates and `padTo8: false`, the table may start at
   * an unaligned offset (a malformed image).
   */
  padTo8?: boolean;
  /** `CheckSum`: `"compute"` (default) for the correct value, or a literal value (e.g. 0). */
  checksum?: "compute" | number;
}

/** Location of one field or region in a built image. */
export interface FieldLocation {
  /** File offset in bytes. */
  offset: number;
  /** Size in bytes (0 for an empty region). */
  size: number;
}

/** Where a section ended up; mirrors the section table entry. */
export interface BuiltSection {
  /** Section name. */
  name: string;
  /** `VirtualAddress` (RVA). */
  virtualAddress: number;
  /** `VirtualSize`. */
  virtualSize: number;
  /** `SizeOfRawData`. */
  sizeOfRawData: number;
  /** `PointerToRawData`. */
  pointerToRawData: number;
  /** `Characteristics`. */
  characteristics: number;
}

/** Result of {@link buildPe}. */
export interface BuiltPe {
  /** The image. */
  bytes: Uint8Array;
  /**
   * Field and region locations, keyed by PE/COFF field names, e.g.
   * `Machine`, `CheckSum`, `DataDirectory[4].Size`, `Section[1].PointerToRawData`,
   * `SectionData[0]`, `Trailer`, `Padding`, `CertificateTable`,
   * `Certificate[0].bCertificate`. Data directory entries beyond
   * `NumberOfRvaAndSizes` are absent. Use {@link field} for a checked lookup.
   */
  fields: Record<string, FieldLocation>;
  /** Section placement, in section-table order. */
  sections: BuiltSection[];
  /** `ImageBase` as written. */
  imageBase: bigint;
  /** `SizeOfHeaders` as written. */
  sizeOfHeaders: number;
  /** `SizeOfImage` as written. */
  sizeOfImage: number;
  /** `CheckSum` as written. */
  checksum: number;
  /** File offset of the certificate table, or `undefined` when there are no certificates. */
  certTableOffset: number | undefined;
  /** Size of the certificate table including per-entry padding (0 without certificates). */
  certTableSize: number;
  /** Authenticode `SUM_OF_BYTES_HASHED`: SizeOfHeaders plus SizeOfRawData of every section with SizeOfRawData > 0. */
  sumOfBytesHashed: number;
  /** End of the region an Authenticode digest covers: `certTableOffset`, or the file length when unsigned. */
  hashedEnd: number;
}

/** Round `value` up to a multiple of `alignment` (which must be positive). */
export function alignUp(value: number, alignment: number): number {
  if (alignment <= 0) return value;
  return Math.ceil(value / alignment) * alignment;
}

/**
 * Deterministic filler bytes from a 32-bit linear congruential generator
 * (Numerical Recipes constants); the top byte of each state is emitted.
 */
export function filler(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * The PE image checksum (as computed by `CheckSumMappedFile` / `imagehlp`):
 * the sum of all little-endian 16-bit words of the file (a final odd byte
 * counts as a word), with the 4-byte CheckSum field at `checksumOffset`
 * treated as zero, carries folded back into 16 bits after every addition,
 * plus the file length.
 */
export function peChecksum(bytes: Uint8Array, checksumOffset: number): number {
  const n = bytes.length;
  const byteAt = (i: number): number =>
    i >= n || (i >= checksumOffset && i < checksumOffset + 4) ? 0 : (bytes[i] ?? 0);
  let sum = 0;
  for (let i = 0; i < n; i += 2) {
    sum += byteAt(i) | (byteAt(i + 1) << 8);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + n) >>> 0;
}

/** Return a copy of `bytes` with a little-endian u16 written at `offset`. */
export function withU16(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  checkRange(bytes, offset, 2);
  const out = bytes.slice();
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint16(offset, value & 0xffff, true);
  return out;
}

/** Return a copy of `bytes` with a little-endian u32 written at `offset`. */
export function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  checkRange(bytes, offset, 4);
  const out = bytes.slice();
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(offset, value >>> 0, true);
  return out;
}

/** Return a copy of `bytes` with a little-endian u64 written at `offset`. */
export function withU64(bytes: Uint8Array, offset: number, value: bigint): Uint8Array {
  checkRange(bytes, offset, 8);
  const out = bytes.slice();
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(offset, BigInt.asUintN(64, value), true);
  return out;
}

/** Return a copy of `bytes` with the byte at `offset` XORed with `mask` (default 0xff). */
export function flipByte(bytes: Uint8Array, offset: number, mask = 0xff): Uint8Array {
  checkRange(bytes, offset, 1);
  const out = bytes.slice();
  out[offset] = (out[offset] ?? 0) ^ (mask & 0xff);
  return out;
}

/** Checked lookup of a field location; throws when `name` is not in `built.fields`. */
export function field(built: BuiltPe, name: string): FieldLocation {
  const loc = built.fields[name];
  if (loc === undefined) throw new Error(`pe-builder: no field ${JSON.stringify(name)}`);
  return loc;
}

/**
 * Return a copy of `built.bytes` with the named 1-, 2-, 4- or 8-byte field
 * set to `value` (little-endian). The CheckSum is not recomputed.
 */
export function withField(built: BuiltPe, name: string, value: number | bigint): Uint8Array {
  const loc = field(built, name);
  switch (loc.size) {
    case 1: {
      const out = built.bytes.slice();
      out[loc.offset] = Number(value) & 0xff;
      return out;
    }
    case 2:
      return withU16(built.bytes, loc.offset, Number(value));
    case 4:
      return withU32(built.bytes, loc.offset, Number(value));
    case 8:
      return withU64(built.bytes, loc.offset, BigInt(value));
    default:
      throw new Error(`pe-builder: field ${name} has size ${loc.size}, not 1, 2, 4 or 8`);
  }
}

/**
 * Return a copy of `bytes` with the PE CheckSum at `checksumOffset`
 * recomputed (useful after a mutation that should not be caught by the
 * checksum).
 */
export function withFixedChecksum(bytes: Uint8Array, checksumOffset: number): Uint8Array {
  const cleared = withU32(bytes, checksumOffset, 0);
  return withU32(cleared, checksumOffset, peChecksum(cleared, checksumOffset));
}

function checkRange(bytes: Uint8Array, offset: number, size: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > bytes.length) {
    throw new RangeError(`pe-builder: ${size}-byte write at ${offset} outside ${bytes.length}-byte buffer`);
  }
}

/** The classic MS-DOS stub program (prints the message and exits), 64 bytes. */
const DOS_STUB: Uint8Array = (() => {
  const code = [0x0e, 0x1f, 0xba, 0x0e, 0x00, 0xb4, 0x09, 0xcd, 0x21, 0xb8, 0x01, 0x4c, 0xcd, 0x21];
  const text = "This program cannot be run in DOS mode.\r\r\n$";
  const out = new Uint8Array(64);
  out.set(code, 0);
  for (let i = 0; i < text.length; i++) out[code.length + i] = text.charCodeAt(i);
  return out;
})();

/** Default sections: `.text` and `.data` with filler contents. */
function defaultSections(): SectionSpec[] {
  return [
    { name: ".text", data: 0x180, characteristics: SCN_TEXT },
    { name: ".data", data: 0x90, characteristics: SCN_DATA },
  ];
}

/**
 * Build a synthetic PE/COFF image from `spec`. The result is a pure
 * function of `spec`: the same spec always yields the same bytes.
 */
export function buildPe(spec: PeSpec = {}): BuiltPe {
  const pe32plus = (spec.format ?? "pe32+") === "pe32+";
  const machine = spec.machine ?? MACHINE_AMD64;
  const fileAlignment = spec.fileAlignment ?? 0x200;
  const sectionAlignment = spec.sectionAlignment ?? 0x1000;
  const numberOfRvaAndSizes = spec.numberOfRvaAndSizes ?? 16;
  const eLfanew = spec.e_lfanew ?? 0x80;
  const imageBase = BigInt(spec.imageBase ?? (pe32plus ? 0x140000000n : 0x400000n));
  const sectionSpecs = spec.sections ?? defaultSections();
  const certificates = spec.certificates;
  const padTo8 = spec.padTo8 ?? certificates !== undefined;

  if (eLfanew < 0x40) throw new Error(`pe-builder: e_lfanew ${eLfanew} overlaps the DOS header`);
  if (numberOfRvaAndSizes < 0 || numberOfRvaAndSizes > 0xffff) {
    throw new Error(`pe-builder: bad NumberOfRvaAndSizes ${numberOfRvaAndSizes}`);
  }

  const fields: Record<string, FieldLocation> = {};
  const at = (name: string, offset: number, size: number): number => {
    fields[name] = { offset, size };
    return offset;
  };

  // ---- Geometry -----------------------------------------------------------
  const coffOffset = eLfanew + 4;
  const optOffset = coffOffset + 20;
  const dirsRel = pe32plus ? 112 : 96;
  const naturalOptSize = dirsRel + 8 * numberOfRvaAndSizes;
  const sizeOfOptionalHeader = spec.sizeOfOptionalHeader ?? naturalOptSize;
  const sectionTableOffset = optOffset + sizeOfOptionalHeader;
  const headersEnd = Math.max(sectionTableOffset + 40 * sectionSpecs.length, optOffset + naturalOptSize);
  const sizeOfHeaders = alignUp(headersEnd, fileAlignment);

  const datas = sectionSpecs.map((s, i) =>
    typeof s.data === "number" ? filler(s.data, s.seed ?? 0x5eed0000 + i * 0x101) : s.data,
  );

  const sections: BuiltSection[] = [];
  let fileCursor = sizeOfHeaders;
  let rva = alignUp(sizeOfHeaders, sectionAlignment);
  for (let i = 0; i < sectionSpecs.length; i++) {
    const s = sectionSpecs[i];
    const data = datas[i];
    if (s === undefined || data === undefined) throw new Error("unreachable");
    const nameBytes = new TextEncoder().encode(s.name);
    if (nameBytes.length > 8) throw new Error(`pe-builder: section name ${JSON.stringify(s.name)} longer than 8 bytes`);
    const sizeOfRawData = alignUp(data.length, fileAlignment);
    const pointerToRawData = s.pointerToRawData ?? (sizeOfRawData === 0 ? 0 : fileCursor);
    const virtualSize = s.virtualSize ?? data.length;
    const characteristics = s.characteristics ?? (s.name === ".text" ? SCN_TEXT : SCN_DATA);
    sections.push({ name: s.name, virtualAddress: rva, virtualSize, sizeOfRawData, pointerToRawData, characteristics });
    if (sizeOfRawData > 0) fileCursor = Math.max(fileCursor, pointerToRawData + sizeOfRawData);
    rva = alignUp(rva + Math.max(virtualSize, 1), sectionAlignment);
  }
  const sizeOfImage =
    sections.length === 0
      ? alignUp(sizeOfHeaders, sectionAlignment)
      : alignUp(
          Math.max(...sections.map((s) => s.virtualAddress + s.virtualSize)),
          sectionAlignment,
        );

  const sectionsEnd = fileCursor;
  const trailer = spec.trailer ?? new Uint8Array(0);
  const trailerEnd = sectionsEnd + trailer.length;
  const padEnd = padTo8 ? alignUp(trailerEnd, 8) : trailerEnd;

  let certTableSize = 0;
  const certTableOffset = certificates === undefined ? undefined : padEnd;
  if (certificates !== undefined) {
    for (const c of certificates) certTableSize += alignUp(8 + c.content.length, 8);
  }
  const fileLength = padEnd + certTableSize;

  // ---- Write --------------------------------------------------------------
  const bytes = new Uint8Array(fileLength);
  const view = new DataView(bytes.buffer);
  const u16 = (name: string, offset: number, value: number): void => {
    at(name, offset, 2);
    view.setUint16(offset, value & 0xffff, true);
  };
  const u32 = (name: string, offset: number, value: number): void => {
    at(name, offset, 4);
    view.setUint32(offset, value >>> 0, true);
  };
  const u64 = (name: string, offset: number, value: bigint): void => {
    at(name, offset, 8);
    view.setBigUint64(offset, BigInt.asUintN(64, value), true);
  };
  const u8 = (name: string, offset: number, value: number): void => {
    at(name, offset, 1);
    bytes[offset] = value & 0xff;
  };

  // DOS header (values as emitted by the Microsoft linker).
  at("DosHeader", 0, 64);
  u16("e_magic", 0x00, 0x5a4d);
  u16("e_cblp", 0x02, 0x90);
  u16("e_cp", 0x04, 3);
  u16("e_cparhdr", 0x08, 4);
  u16("e_maxalloc", 0x0c, 0xffff);
  u16("e_sp", 0x10, 0xb8);
  u16("e_lfarlc", 0x18, 0x40);
  u32("e_lfanew", 0x3c, eLfanew);
  if (eLfanew >= 0x40 + DOS_STUB.length) {
    bytes.set(DOS_STUB, 0x40);
    at("DosStub", 0x40, DOS_STUB.length);
  } else {
    at("DosStub", 0x40, 0);
  }

  // PE signature and COFF file header.
  u32("Signature", eLfanew, 0x00004550);
  at("FileHeader", coffOffset, 20);
  u16("Machine", coffOffset + 0, machine);
  u16("NumberOfSections", coffOffset + 2, sections.length);
  u32("TimeDateStamp", coffOffset + 4, 0);
  u32("PointerToSymbolTable", coffOffset + 8, 0);
  u32("NumberOfSymbols", coffOffset + 12, 0);
  u16("SizeOfOptionalHeader", coffOffset + 16, sizeOfOptionalHeader);
  u16("Characteristics", coffOffset + 18, spec.characteristics ?? 0x0206);

  // Optional header.
  const o = optOffset;
  const codeSections = sections.filter((s) => (s.characteristics & SCN_CNT_CODE) !== 0);
  const dataSections = sections.filter((s) => (s.characteristics & SCN_CNT_CODE) === 0);
  const sumRaw = (list: BuiltSection[], flag: number): number =>
    list.filter((s) => (s.characteristics & flag) !== 0).reduce((a, s) => a + s.sizeOfRawData, 0);
  const entry = spec.addressOfEntryPoint ?? codeSections[0]?.virtualAddress ?? sections[0]?.virtualAddress ?? 0;
  at("OptionalHeader", o, naturalOptSize);
  u16("Magic", o + 0, pe32plus ? 0x20b : 0x10b);
  u8("MajorLinkerVersion", o + 2, 0);
  u8("MinorLinkerVersion", o + 3, 0);
  u32("SizeOfCode", o + 4, sumRaw(sections, SCN_CNT_CODE));
  u32("SizeOfInitializedData", o + 8, sumRaw(sections, SCN_CNT_INITIALIZED_DATA));
  u32("SizeOfUninitializedData", o + 12, sumRaw(sections, SCN_CNT_UNINITIALIZED_DATA));
  u32("AddressOfEntryPoint", o + 16, entry);
  u32("BaseOfCode", o + 20, codeSections[0]?.virtualAddress ?? 0);
  if (pe32plus) {
    u64("ImageBase", o + 24, imageBase);
  } else {
    u32("BaseOfData", o + 24, dataSections[0]?.virtualAddress ?? 0);
    u32("ImageBase", o + 28, Number(BigInt.asUintN(32, imageBase)));
  }
  u32("SectionAlignment", o + 32, sectionAlignment);
  u32("FileAlignment", o + 36, fileAlignment);
  u16("MajorOperatingSystemVersion", o + 40, 0);
  u16("MinorOperatingSystemVersion", o + 42, 0);
  u16("MajorImageVersion", o + 44, 0);
  u16("MinorImageVersion", o + 46, 0);
  u16("MajorSubsystemVersion", o + 48, 0);
  u16("MinorSubsystemVersion", o + 50, 0);
  u32("Win32VersionValue", o + 52, 0);
  u32("SizeOfImage", o + 56, sizeOfImage);
  u32("SizeOfHeaders", o + 60, sizeOfHeaders);
  u32("CheckSum", o + 64, 0);
  u16("Subsystem", o + 68, spec.subsystem ?? SUBSYSTEM_EFI_APPLICATION);
  u16("DllCharacteristics", o + 70, spec.dllCharacteristics ?? 0);
  if (pe32plus) {
    u64("SizeOfStackReserve", o + 72, 0x100000n);
    u64("SizeOfStackCommit", o + 80, 0x1000n);
    u64("SizeOfHeapReserve", o + 88, 0x100000n);
    u64("SizeOfHeapCommit", o + 96, 0x1000n);
    u32("LoaderFlags", o + 104, 0);
    u32("NumberOfRvaAndSizes", o + 108, numberOfRvaAndSizes);
  } else {
    u32("SizeOfStackReserve", o + 72, 0x100000);
    u32("SizeOfStackCommit", o + 76, 0x1000);
    u32("SizeOfHeapReserve", o + 80, 0x100000);
    u32("SizeOfHeapCommit", o + 84, 0x1000);
    u32("LoaderFlags", o + 88, 0);
    u32("NumberOfRvaAndSizes", o + 92, numberOfRvaAndSizes);
  }
  for (let d = 0; d < numberOfRvaAndSizes; d++) {
    const isSecurity = d === DIRECTORY_ENTRY_SECURITY && certTableOffset !== undefined;
    u32(`DataDirectory[${d}].VirtualAddress`, o + dirsRel + 8 * d, isSecurity ? (certTableOffset ?? 0) : 0);
    u32(`DataDirectory[${d}].Size`, o + dirsRel + 8 * d + 4, isSecurity ? certTableSize : 0);
  }

  // Section table (written after the directories: with a shrunken
  // SizeOfOptionalHeader it overwrites them, as a real loader would see it).
  at("SectionTable", sectionTableOffset, 40 * sections.length);
  sections.forEach((s, i) => {
    const e = sectionTableOffset + 40 * i;
    at(`Section[${i}]`, e, 40);
    at(`Section[${i}].Name`, e, 8);
    bytes.fill(0, e, e + 8);
    bytes.set(new TextEncoder().encode(s.name), e);
    u32(`Section[${i}].VirtualSize`, e + 8, s.virtualSize);
    u32(`Section[${i}].VirtualAddress`, e + 12, s.virtualAddress);
    u32(`Section[${i}].SizeOfRawData`, e + 16, s.sizeOfRawData);
    u32(`Section[${i}].PointerToRawData`, e + 20, s.pointerToRawData);
    u32(`Section[${i}].PointerToRelocations`, e + 24, 0);
    u32(`Section[${i}].PointerToLinenumbers`, e + 28, 0);
    u16(`Section[${i}].NumberOfRelocations`, e + 32, 0);
    u16(`Section[${i}].NumberOfLinenumbers`, e + 34, 0);
    u32(`Section[${i}].Characteristics`, e + 36, s.characteristics);
  });

  // Section data (raw extent, i.e. SizeOfRawData bytes, zero padded).
  sections.forEach((s, i) => {
    const data = datas[i] ?? new Uint8Array(0);
    at(`SectionData[${i}]`, s.pointerToRawData, s.sizeOfRawData);
    if (s.sizeOfRawData > 0) {
      bytes.fill(0, s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData);
      bytes.set(data, s.pointerToRawData);
    }
  });

  at("Trailer", sectionsEnd, trailer.length);
  bytes.set(trailer, sectionsEnd);
  at("Padding", trailerEnd, padEnd - trailerEnd);

  if (certificates !== undefined && certTableOffset !== undefined) {
    at("CertificateTable", certTableOffset, certTableSize);
    let p = certTableOffset;
    certificates.forEach((c, i) => {
      const realLength = 8 + c.content.length;
      u32(`Certificate[${i}].dwLength`, p, c.dwLength ?? realLength);
      u16(`Certificate[${i}].wRevision`, p + 4, c.revision ?? WIN_CERT_REVISION_2_0);
      u16(`Certificate[${i}].wCertificateType`, p + 6, c.type ?? WIN_CERT_TYPE_PKCS_SIGNED_DATA);
      at(`Certificate[${i}].bCertificate`, p + 8, c.content.length);
      bytes.set(c.content, p + 8);
      at(`Certificate[${i}].Padding`, p + realLength, alignUp(realLength, 8) - realLength);
      p += alignUp(realLength, 8);
    });
  }

  const checksumOffset = o + 64;
  const checksum = spec.checksum === undefined || spec.checksum === "compute"
    ? peChecksum(bytes, checksumOffset)
    : spec.checksum >>> 0;
  view.setUint32(checksumOffset, checksum, true);

  const sumOfBytesHashed = sizeOfHeaders + sections.reduce((a, s) => a + (s.sizeOfRawData > 0 ? s.sizeOfRawData : 0), 0);

  return {
    bytes,
    fields,
    sections,
    imageBase,
    sizeOfHeaders,
    sizeOfImage,
    checksum,
    certTableOffset,
    certTableSize,
    sumOfBytesHashed,
    hashedEnd: certTableOffset ?? fileLength,
  };
}

/** A committed golden fixture: file name under `fixtures/synthetic/`, its spec, and what it is for. */
export interface SyntheticFixture {
  /** File name under `fixtures/synthetic/`. */
  name: string;
  /** The spec the file is built from. */
  spec: PeSpec;
  /** One-line description (mirrored in `fixtures/README.md`). */
  description: string;
}

/** DER bytes of a dummy, non-signature ASN.1 value (`SEQUENCE { INTEGER 0 }`). */
export const DUMMY_DER: Uint8Array = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00);

/**
 * The golden fixtures committed under `fixtures/synthetic/`. Rebuild them
 * with `UPDATE_FIXTURES=1 npx vitest run test/pe-builder.test.ts`.
 */
export const SYNTHETIC_FIXTURES: readonly SyntheticFixture[] = [
  {
    name: "pe32plus-minimal.efi",
    spec: {},
    description: "PE32+ x86-64 EFI application, .text + .data, unsigned, length a multiple of 8",
  },
  {
    name: "pe32-i386.efi",
    spec: { format: "pe32", machine: MACHINE_I386 },
    description: "PE32 i386 EFI application, .text + .data, unsigned",
  },
  {
    name: "pe32plus-arm64-lfanew40.efi",
    spec: { machine: MACHINE_ARM64, e_lfanew: 0x40 },
    description: "PE32+ arm64 with the PE header at 0x40 (as in Linux arm64 Image), no DOS stub",
  },
  {
    name: "pe32plus-unaligned-length.efi",
    spec: { trailer: filler(13, 0x7a11) },
    description: "unsigned PE32+ whose length is not a multiple of 8 (13-byte trailer)",
  },
  {
    name: "pe32plus-gap.efi",
    spec: {
      sections: [
        { name: ".text", data: 0x180, characteristics: SCN_TEXT },
        { name: ".data", data: 0x90, characteristics: SCN_DATA, pointerToRawData: 0x400 + 0x1000 },
      ],
    },
    description: "0x1000 zero bytes between the end of .text and the start of .data",
  },
  {
    name: "pe32plus-trailer.efi",
    spec: { trailer: filler(0x100, 0x7a12) },
    description: "unsigned PE32+ with 0x100 bytes of remaining data after the last section",
  },
  {
    name: "pe32plus-signed-dummy.efi",
    spec: { certificates: [{ content: DUMMY_DER }] },
    description: "certificate table with one WIN_CERTIFICATE holding dummy DER 30 03 02 01 00 (not a signature)",
  },
  {
    name: "pe32plus-signed-dummy-trailer.efi",
    spec: { trailer: filler(5, 0x7a13), certificates: [{ content: DUMMY_DER }] },
    description: "5-byte trailer, 3 bytes of zero padding to 8, then the dummy certificate table",
  },
];
