/**
 * PE/COFF parsing: DOS header, COFF header, optional header (PE32 and PE32+),
 * data directories, section table and the certificate table.
 *
 * Structural problems that leave the file's layout undefined throw a
 * {@link KimageError} with a `pe-*` code. Layouts the spec allows but on which
 * peer tools disagree (gaps, overlaps, sections inside the headers, a table
 * not at the end of the file) are parsed and reported as {@link Finding}s, so
 * that no digest is ever computed over a doubtful layout without a flag.
 *
 * @module
 */

import { ByteView } from "../../core/bytes.js";
import { KimageError, type Finding } from "../../core/errors.js";
import {
  COFF_HEADER_SIZE,
  COFF_SYMBOL_SIZE,
  DATA_DIRECTORY_NAMES,
  DATA_DIRECTORY_SIZE,
  DOS_HEADER_SIZE,
  DOS_MAGIC,
  E_LFANEW_OFFSET,
  IMAGE_DIRECTORY_ENTRY_SECURITY,
  OPTIONAL_LAYOUT,
  PE32PLUS_MAGIC,
  PE32_MAGIC,
  PE_SIGNATURE,
  SECTION_HEADER_SIZE,
  type CoffHeader,
  type DataDirectory,
  type OptionalHeader,
  type SectionHeader,
} from "./spec.js";
import { parseCertificateTable, type CertificateTable } from "./certificates.js";

/** Format id of the PE/COFF layer. */
export const PE_LAYER = "pe";

/** A section header with where it sits in the file. */
export interface Section extends SectionHeader {
  /** Index in the section table. */
  index: number;
  /** Absolute offset of this section's 40-byte header. */
  headerOffset: number;
}

/** A data directory with its index and spec name. */
export interface NamedDataDirectory extends DataDirectory {
  index: number;
  name: string;
  /** Absolute offset of the 8-byte directory entry. */
  entryOffset: number;
}

/** A parsed PE/COFF image. All offsets are absolute (relative to the outermost input). */
export interface PeFile {
  /** The whole image (a view of the caller's bytes). */
  bytes: Uint8Array;
  /** Absolute offset of `bytes[0]`. */
  base: number;
  /** `e_lfanew`: file offset of the "PE\0\0" signature. */
  e_lfanew: number;
  /** PE32 or PE32+. */
  format: "pe32" | "pe32+";
  coff: CoffHeader;
  optional: OptionalHeader;
  dataDirectories: NamedDataDirectory[];
  sections: Section[];
  /** Offsets (relative to `bytes`) of the fields the Authenticode digest skips or uses. */
  layout: {
    coffHeader: number;
    optionalHeader: number;
    /** The CheckSum field (4 bytes). */
    checksum: number;
    /** The certificate-table directory entry (8 bytes), or null if NumberOfRvaAndSizes <= 4. */
    certDirectoryEntry: number | null;
    sectionTable: number;
    sectionTableEnd: number;
  };
  /** The certificate table, or null when the file is unsigned (entry absent or zero). */
  certificateTable: CertificateTable | null;
  /** Non-fatal observations; see the module doc. */
  findings: Finding[];
  /** The image's full size when `bytes` is only a prefix of it (see {@link ParsePeOptions.fileSize}). */
  fileSize?: number;
}

/** Options for {@link parsePe}. */
export interface ParsePeOptions {
  /** Absolute offset of `bytes[0]` in the outermost input (for error offsets). */
  base?: number;
  /**
   * When `bytes` is only the start of the image (a peek into a decompressed
   * payload): the image's full size. Section and table bounds are checked
   * against it; what lies past `bytes` is not read.
   */
  fileSize?: number;
}

/**
 * Cheap check for a PE image: "MZ", an in-bounds `e_lfanew`, and "PE\0\0"
 * there. Never throws.
 */
export function probePe(bytes: Uint8Array): boolean {
  if (bytes.length < DOS_HEADER_SIZE) return false;
  const v = new ByteView(bytes, PE_LAYER);
  if (v.u16le(0, "e_magic") !== DOS_MAGIC) return false;
  const lfanew = v.u32le(E_LFANEW_OFFSET, "e_lfanew");
  return v.has(lfanew, 4 + COFF_HEADER_SIZE) && v.u32le(lfanew, "Signature") === PE_SIGNATURE;
}

/**
 * Parses a PE/COFF image.
 *
 * @throws KimageError `pe-bad-dos-magic`, `pe-bad-lfanew`, `pe-bad-signature`,
 *   `pe-optional-header-truncated`, `pe-bad-optional-magic`,
 *   `pe-data-dirs-overflow`, `pe-headers-size-invalid`,
 *   `pe-section-table-out-of-bounds`, `pe-section-out-of-bounds`,
 *   `pe-cert-table-out-of-bounds`, `pe-cert-table-in-headers`, `truncated`.
 */
export function parsePe(bytes: Uint8Array, options: ParsePeOptions = {}): PeFile {
  const base = options.base ?? 0;
  const v = new ByteView(bytes, PE_LAYER, base);
  // Bounds of the image: the bytes given, or the full size of which they are a prefix.
  const size = options.fileSize !== undefined && options.fileSize > bytes.length ? options.fileSize : bytes.length;
  const inImage = (off: number, len: number) => off >= 0 && len >= 0 && off <= size - len;
  const findings: Finding[] = [];
  const err = (code: ConstructorParameters<typeof KimageError>[0], msg: string, at: number) =>
    new KimageError(code, msg, { layer: PE_LAYER, offset: base + at });

  // "MS-DOS Stub ... At location 0x3c, the stub has the file offset to the PE signature."
  if (v.length < DOS_HEADER_SIZE || v.u16le(0, "e_magic") !== DOS_MAGIC) {
    throw err("pe-bad-dos-magic", "not an MZ executable (e_magic != 'MZ')", 0);
  }
  const e_lfanew = v.u32le(E_LFANEW_OFFSET, "e_lfanew");
  if (e_lfanew < DOS_HEADER_SIZE || !v.has(e_lfanew, 4 + COFF_HEADER_SIZE)) {
    throw err(
      "pe-bad-lfanew",
      `e_lfanew = 0x${e_lfanew.toString(16)} is outside the file or inside the DOS header`,
      E_LFANEW_OFFSET,
    );
  }
  if (v.u32le(e_lfanew, "Signature") !== PE_SIGNATURE) {
    throw err("pe-bad-signature", "no 'PE\\0\\0' signature at e_lfanew", e_lfanew);
  }

  // "COFF File Header (Object and Image)"
  const c = e_lfanew + 4;
  const coff: CoffHeader = {
    Machine: v.u16le(c, "Machine"),
    NumberOfSections: v.u16le(c + 2, "NumberOfSections"),
    TimeDateStamp: v.u32le(c + 4, "TimeDateStamp"),
    PointerToSymbolTable: v.u32le(c + 8, "PointerToSymbolTable"),
    NumberOfSymbols: v.u32le(c + 12, "NumberOfSymbols"),
    SizeOfOptionalHeader: v.u16le(c + 16, "SizeOfOptionalHeader"),
    Characteristics: v.u16le(c + 18, "Characteristics"),
  };

  // "Optional Header (Image Only)"
  const o = c + COFF_HEADER_SIZE;
  if (coff.SizeOfOptionalHeader < 2 || !v.has(o, coff.SizeOfOptionalHeader)) {
    throw err(
      "pe-optional-header-truncated",
      `SizeOfOptionalHeader = ${coff.SizeOfOptionalHeader} runs past the end of the file or holds no Magic`,
      c + 16,
    );
  }
  const magic = v.u16le(o, "Magic");
  if (magic !== PE32_MAGIC && magic !== PE32PLUS_MAGIC) {
    throw err("pe-bad-optional-magic", `optional header Magic = 0x${magic.toString(16)}`, o);
  }
  const format = magic === PE32_MAGIC ? "pe32" : "pe32+";
  const lay = OPTIONAL_LAYOUT[format];
  if (coff.SizeOfOptionalHeader < lay.dataDirectories) {
    throw err(
      "pe-optional-header-truncated",
      `SizeOfOptionalHeader = ${coff.SizeOfOptionalHeader} is smaller than the ${lay.dataDirectories} bytes of fixed ${format} fields`,
      c + 16,
    );
  }
  const optional = readOptionalHeader(v, o, format);

  // "NumberOfRvaAndSizes: The number of data-directory entries in the remainder of the optional header."
  const dirsBytes = coff.SizeOfOptionalHeader - lay.dataDirectories;
  if (optional.NumberOfRvaAndSizes > Math.floor(dirsBytes / DATA_DIRECTORY_SIZE)) {
    throw err(
      "pe-data-dirs-overflow",
      `NumberOfRvaAndSizes = ${optional.NumberOfRvaAndSizes} needs ${optional.NumberOfRvaAndSizes * DATA_DIRECTORY_SIZE} bytes; SizeOfOptionalHeader leaves ${dirsBytes}`,
      o + lay.dataDirectories - 4,
    );
  }
  if (dirsBytes !== optional.NumberOfRvaAndSizes * DATA_DIRECTORY_SIZE) {
    findings.push({
      code: "optional-header-slack",
      severity: "warning",
      offset: base + c + 16,
      message: `SizeOfOptionalHeader leaves ${dirsBytes - optional.NumberOfRvaAndSizes * DATA_DIRECTORY_SIZE} byte(s) after the data directories; the Linux kernel looks for the section table right after the directories, the spec after SizeOfOptionalHeader`,
    });
  }
  const dataDirectories: NamedDataDirectory[] = [];
  for (let i = 0; i < optional.NumberOfRvaAndSizes; i++) {
    const at = o + lay.dataDirectories + i * DATA_DIRECTORY_SIZE;
    dataDirectories.push({
      index: i,
      name: DATA_DIRECTORY_NAMES[i] ?? `Directory ${i}`,
      entryOffset: base + at,
      VirtualAddress: v.u32le(at, "DataDirectory.VirtualAddress"),
      Size: v.u32le(at + 4, "DataDirectory.Size"),
    });
  }
  const certDirectoryEntry =
    optional.NumberOfRvaAndSizes > IMAGE_DIRECTORY_ENTRY_SECURITY
      ? o + lay.dataDirectories + IMAGE_DIRECTORY_ENTRY_SECURITY * DATA_DIRECTORY_SIZE
      : null;
  if (certDirectoryEntry === null) {
    findings.push({
      code: "no-cert-directory",
      severity: "warning",
      offset: base + o + lay.dataDirectories - 4,
      message: `NumberOfRvaAndSizes = ${optional.NumberOfRvaAndSizes}: no certificate-table entry; the file cannot carry a signature and the digest skips only CheckSum (EDK2 rule)`,
    });
  }

  // "Section Table ... immediately follows the optional header"
  const sectionTable = o + coff.SizeOfOptionalHeader;
  const sectionTableEnd = sectionTable + coff.NumberOfSections * SECTION_HEADER_SIZE;
  if (sectionTableEnd > v.length) {
    throw err(
      "pe-section-table-out-of-bounds",
      `${coff.NumberOfSections} section headers at 0x${sectionTable.toString(16)} run past the end of the file`,
      c + 2,
    );
  }
  if (sectionTableEnd > optional.SizeOfHeaders) {
    throw err(
      "pe-section-table-out-of-bounds",
      `the section table ends at 0x${sectionTableEnd.toString(16)}, past SizeOfHeaders = 0x${optional.SizeOfHeaders.toString(16)}`,
      c + 2,
    );
  }
  if (optional.SizeOfHeaders > size) {
    throw err(
      "pe-headers-size-invalid",
      `SizeOfHeaders = 0x${optional.SizeOfHeaders.toString(16)} is past the end of the file (0x${size.toString(16)})`,
      o + 60,
    );
  }

  const sections: Section[] = [];
  for (let i = 0; i < coff.NumberOfSections; i++) {
    const s = sectionTable + i * SECTION_HEADER_SIZE;
    const shortName = v.cstring(s, 8, "Name");
    const sec: Section = {
      index: i,
      headerOffset: base + s,
      Name: longSectionName(v, coff, shortName) ?? shortName,
      ShortName: shortName,
      VirtualSize: v.u32le(s + 8, "VirtualSize"),
      VirtualAddress: v.u32le(s + 12, "VirtualAddress"),
      SizeOfRawData: v.u32le(s + 16, "SizeOfRawData"),
      PointerToRawData: v.u32le(s + 20, "PointerToRawData"),
      PointerToRelocations: v.u32le(s + 24, "PointerToRelocations"),
      PointerToLinenumbers: v.u32le(s + 28, "PointerToLinenumbers"),
      NumberOfRelocations: v.u16le(s + 32, "NumberOfRelocations"),
      NumberOfLinenumbers: v.u16le(s + 34, "NumberOfLinenumbers"),
      Characteristics: v.u32le(s + 36, "Characteristics"),
    };
    if (sec.SizeOfRawData > 0 && !inImage(sec.PointerToRawData, sec.SizeOfRawData)) {
      throw err(
        "pe-section-out-of-bounds",
        `section ${i} (${JSON.stringify(sec.Name)}): raw data [0x${sec.PointerToRawData.toString(16)}, +0x${sec.SizeOfRawData.toString(16)}) runs past the end of the file (0x${size.toString(16)})`,
        s + 16,
      );
    }
    sections.push(sec);
  }
  checkSectionLayout(sections, optional.SizeOfHeaders, findings);

  // "Certificate Table ... The VirtualAddress field is a file pointer"
  let certificateTable: CertificateTable | null = null;
  if (certDirectoryEntry !== null) {
    const dir = dataDirectories[IMAGE_DIRECTORY_ENTRY_SECURITY] as NamedDataDirectory;
    if (dir.VirtualAddress !== 0 && dir.Size !== 0) {
      if (!inImage(dir.VirtualAddress, dir.Size)) {
        throw err(
          "pe-cert-table-out-of-bounds",
          `certificate table [0x${dir.VirtualAddress.toString(16)}, +0x${dir.Size.toString(16)}) runs past the end of the file (0x${size.toString(16)})`,
          certDirectoryEntry,
        );
      }
      if (dir.VirtualAddress < optional.SizeOfHeaders) {
        throw err(
          "pe-cert-table-in-headers",
          `certificate table at 0x${dir.VirtualAddress.toString(16)} starts inside the headers (SizeOfHeaders = 0x${optional.SizeOfHeaders.toString(16)})`,
          certDirectoryEntry,
        );
      }
      if (dir.VirtualAddress + dir.Size !== size) {
        findings.push({
          code: "cert-table-not-at-end",
          severity: "warning",
          offset: base + certDirectoryEntry,
          message: `${size - dir.VirtualAddress - dir.Size} byte(s) follow the certificate table; the digest hashes up to (file size - table size) as the spec, EDK2 and the kernel do, peers that stop at the table differ`,
        });
      }
      if (v.has(dir.VirtualAddress, dir.Size)) {
        certificateTable = parseCertificateTable(v, dir.VirtualAddress, dir.Size, findings);
      } else {
        findings.push({
          code: "cert-table-not-decoded",
          severity: "info",
          offset: base + certDirectoryEntry,
          message: `the certificate table lies past the ${v.length} decoded bytes of this ${size}-byte image (inspect --full decodes it)`,
        });
      }
    } else if (dir.VirtualAddress !== 0 || dir.Size !== 0) {
      findings.push({
        code: "cert-directory-half-empty",
        severity: "warning",
        offset: base + certDirectoryEntry,
        message: `certificate-table entry has VirtualAddress = 0x${dir.VirtualAddress.toString(16)}, Size = 0x${dir.Size.toString(16)}; treated as unsigned, as the kernel does`,
      });
    }
  }

  return {
    bytes,
    base,
    e_lfanew,
    format,
    coff,
    optional,
    dataDirectories,
    sections,
    layout: {
      coffHeader: c,
      optionalHeader: o,
      checksum: o + lay.checksum,
      certDirectoryEntry,
      sectionTable,
      sectionTableEnd,
    },
    certificateTable,
    findings,
    ...(size > bytes.length ? { fileSize: size } : {}),
  };
}

/** Longest section name read from the COFF string table. */
const MAX_LONG_NAME = 256;

/**
 * Resolves a "/nnn" section name through the COFF string table (at
 * PointerToSymbolTable + NumberOfSymbols * 18), or returns null when the name
 * is not of that form or the table is absent or out of bounds. Never throws.
 */
function longSectionName(v: ByteView, coff: CoffHeader, name: string): string | null {
  const m = /^\/(\d{1,7})$/.exec(name);
  if (!m || coff.PointerToSymbolTable === 0) return null;
  const strtab = coff.PointerToSymbolTable + coff.NumberOfSymbols * COFF_SYMBOL_SIZE;
  if (!v.has(strtab, 4)) return null;
  const tableSize = v.u32le(strtab, "string table size");
  const at = Number(m[1]);
  if (at < 4 || at >= tableSize || !v.has(strtab + at, 1)) return null;
  const resolved = v.cstring(strtab + at, Math.min(MAX_LONG_NAME, tableSize - at), "section name");
  return resolved.length > 0 ? resolved : null;
}

function readOptionalHeader(v: ByteView, o: number, format: "pe32" | "pe32+"): OptionalHeader {
  const wide = format === "pe32+";
  // Offsets from "Optional Header Standard Fields" and "Windows-Specific Fields".
  const h: OptionalHeader = {
    Magic: v.u16le(o, "Magic"),
    MajorLinkerVersion: v.u8(o + 2, "MajorLinkerVersion"),
    MinorLinkerVersion: v.u8(o + 3, "MinorLinkerVersion"),
    SizeOfCode: v.u32le(o + 4, "SizeOfCode"),
    SizeOfInitializedData: v.u32le(o + 8, "SizeOfInitializedData"),
    SizeOfUninitializedData: v.u32le(o + 12, "SizeOfUninitializedData"),
    AddressOfEntryPoint: v.u32le(o + 16, "AddressOfEntryPoint"),
    BaseOfCode: v.u32le(o + 20, "BaseOfCode"),
    ImageBase: wide ? v.u64le(o + 24, "ImageBase") : BigInt(v.u32le(o + 28, "ImageBase")),
    SectionAlignment: v.u32le(o + 32, "SectionAlignment"),
    FileAlignment: v.u32le(o + 36, "FileAlignment"),
    MajorOperatingSystemVersion: v.u16le(o + 40, "MajorOperatingSystemVersion"),
    MinorOperatingSystemVersion: v.u16le(o + 42, "MinorOperatingSystemVersion"),
    MajorImageVersion: v.u16le(o + 44, "MajorImageVersion"),
    MinorImageVersion: v.u16le(o + 46, "MinorImageVersion"),
    MajorSubsystemVersion: v.u16le(o + 48, "MajorSubsystemVersion"),
    MinorSubsystemVersion: v.u16le(o + 50, "MinorSubsystemVersion"),
    Win32VersionValue: v.u32le(o + 52, "Win32VersionValue"),
    SizeOfImage: v.u32le(o + 56, "SizeOfImage"),
    SizeOfHeaders: v.u32le(o + 60, "SizeOfHeaders"),
    CheckSum: v.u32le(o + 64, "CheckSum"),
    Subsystem: v.u16le(o + 68, "Subsystem"),
    DllCharacteristics: v.u16le(o + 70, "DllCharacteristics"),
    SizeOfStackReserve: wide ? v.u64le(o + 72, "SizeOfStackReserve") : BigInt(v.u32le(o + 72, "SizeOfStackReserve")),
    SizeOfStackCommit: wide ? v.u64le(o + 80, "SizeOfStackCommit") : BigInt(v.u32le(o + 76, "SizeOfStackCommit")),
    SizeOfHeapReserve: wide ? v.u64le(o + 88, "SizeOfHeapReserve") : BigInt(v.u32le(o + 80, "SizeOfHeapReserve")),
    SizeOfHeapCommit: wide ? v.u64le(o + 96, "SizeOfHeapCommit") : BigInt(v.u32le(o + 84, "SizeOfHeapCommit")),
    LoaderFlags: v.u32le(wide ? o + 104 : o + 88, "LoaderFlags"),
    NumberOfRvaAndSizes: v.u32le(wide ? o + 108 : o + 92, "NumberOfRvaAndSizes"),
  };
  if (!wide) h.BaseOfData = v.u32le(o + 24, "BaseOfData");
  return h;
}

/** At most this many section-layout findings are listed. */
export const MAX_SECTION_FINDINGS = 32;

/**
 * Findings for section layouts the spec allows but peers treat differently:
 * raw data inside the headers, overlapping raw ranges, and gaps between them.
 */
function checkSectionLayout(
  sections: readonly Section[],
  sizeOfHeaders: number,
  findings: Finding[],
): void {
  const hashed = sections
    .filter((s) => s.SizeOfRawData > 0)
    .sort((a, b) => a.PointerToRawData - b.PointerToRawData || a.index - b.index);
  let end = sizeOfHeaders;
  let reported = 0;
  for (const s of hashed) {
    if (reported === MAX_SECTION_FINDINGS) {
      findings.push({
        code: "too-many-findings",
        severity: "warning",
        offset: s.headerOffset,
        message: `more than ${MAX_SECTION_FINDINGS} section layout findings; the rest are not listed`,
      });
      break;
    }
    const before = findings.length;
    const at = s.headerOffset + 20; // PointerToRawData
    if (s.PointerToRawData < sizeOfHeaders) {
      findings.push({
        code: "section-in-headers",
        severity: "warning",
        offset: at,
        message: `section ${s.index} (${JSON.stringify(s.Name)}) starts at 0x${s.PointerToRawData.toString(16)}, inside the headers (SizeOfHeaders = 0x${sizeOfHeaders.toString(16)}); its bytes are hashed twice`,
      });
    } else if (s.PointerToRawData < end) {
      findings.push({
        code: "sections-overlap",
        severity: "warning",
        offset: at,
        message: `section ${s.index} (${JSON.stringify(s.Name)}) at 0x${s.PointerToRawData.toString(16)} overlaps the previous raw data ending at 0x${end.toString(16)}; overlapping bytes are hashed twice`,
      });
    } else if (s.PointerToRawData > end) {
      findings.push({
        code: "section-gap",
        severity: "info",
        offset: at,
        message: `${s.PointerToRawData - end} byte(s) between 0x${end.toString(16)} and section ${s.index} (${JSON.stringify(s.Name)}) are not in any section; the digest re-hashes from offset SUM as EDK2 and pesign do, a linear hasher differs`,
      });
    }
    if (findings.length > before) reported++;
    end = Math.max(end, s.PointerToRawData + s.SizeOfRawData);
  }
}

/** The first section whose name is `name` (long names resolved), or undefined. */
export function sectionByName(pe: PeFile, name: string): Section | undefined {
  return pe.sections.find((s) => s.Name === name);
}

/** The raw bytes of a section (a view, no copy): `SizeOfRawData` bytes at `PointerToRawData`. */
export function sectionData(pe: PeFile, section: Section): Uint8Array {
  return pe.bytes.subarray(section.PointerToRawData, section.PointerToRawData + section.SizeOfRawData);
}
