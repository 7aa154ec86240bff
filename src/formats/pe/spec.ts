/**
 * PE/COFF structures and constants, from the Microsoft PE Format
 * specification ("PE Format", learn.microsoft.com) and the Authenticode
 * specification ("Windows Authenticode Portable Executable Signature
 * Format"). Field names follow the spec. Parsing lives in `parse.ts`.
 *
 * @module
 */

/** "MZ": `e_magic` of the MS-DOS stub. */
export const DOS_MAGIC = 0x5a4d;
/** Offset of `e_lfanew` ("offset to the PE signature") in the DOS header. */
export const E_LFANEW_OFFSET = 0x3c;
/** Size of the DOS header through `e_lfanew`. */
export const DOS_HEADER_SIZE = 0x40;
/** "PE\0\0" as a little-endian u32. */
export const PE_SIGNATURE = 0x00004550;
/** Size of the COFF file header. */
export const COFF_HEADER_SIZE = 20;
/** Size of one section table entry. */
export const SECTION_HEADER_SIZE = 40;
/** Size of one COFF symbol table record; the string table follows the records. */
export const COFF_SYMBOL_SIZE = 18;
/** Size of one data directory entry (VirtualAddress, Size). */
export const DATA_DIRECTORY_SIZE = 8;

/** Optional header magic: "PE32" = 0x10b, "PE32+" = 0x20b. */
export const PE32_MAGIC = 0x10b;
/** Optional header magic for PE32+. */
export const PE32PLUS_MAGIC = 0x20b;

/**
 * Offsets inside the optional header that differ between PE32 and PE32+.
 * "CheckSum ... 64" is the same in both; the data directories start at 96
 * (PE32) or 112 (PE32+).
 */
export const OPTIONAL_LAYOUT = {
  pe32: { checksum: 64, dataDirectories: 96 },
  "pe32+": { checksum: 64, dataDirectories: 112 },
} as const;

/** Index of the certificate table in the data directories ("Certificate Table ... 4"). */
export const IMAGE_DIRECTORY_ENTRY_SECURITY = 4;

/** Data directory names, by index (spec: "Optional Header Data Directories"). */
export const DATA_DIRECTORY_NAMES = [
  "Export Table",
  "Import Table",
  "Resource Table",
  "Exception Table",
  "Certificate Table",
  "Base Relocation Table",
  "Debug",
  "Architecture",
  "Global Ptr",
  "TLS Table",
  "Load Config Table",
  "Bound Import",
  "IAT",
  "Delay Import Descriptor",
  "CLR Runtime Header",
  "Reserved",
] as const;

/** "Machine Types": IMAGE_FILE_MACHINE_* values, by spec name (without the prefix). */
export const MACHINE = {
  UNKNOWN: 0x0,
  I386: 0x14c,
  ARM: 0x1c0,
  THUMB: 0x1c2,
  ARMNT: 0x1c4,
  EBC: 0xebc,
  AMD64: 0x8664,
  ARM64: 0xaa64,
  IA64: 0x200,
  POWERPC: 0x1f0,
  RISCV32: 0x5032,
  RISCV64: 0x5064,
  RISCV128: 0x5128,
  LOONGARCH32: 0x6232,
  LOONGARCH64: 0x6264,
} as const;

/** Name of an IMAGE_FILE_MACHINE_* value, or `0x…` when unknown. */
export function machineName(machine: number): string {
  for (const [name, v] of Object.entries(MACHINE)) if (v === machine) return name;
  return `0x${machine.toString(16)}`;
}

/** "Windows Subsystem" values used by EFI images and a few others. */
export const SUBSYSTEM = {
  UNKNOWN: 0,
  NATIVE: 1,
  WINDOWS_GUI: 2,
  WINDOWS_CUI: 3,
  EFI_APPLICATION: 10,
  EFI_BOOT_SERVICE_DRIVER: 11,
  EFI_RUNTIME_DRIVER: 12,
  EFI_ROM: 13,
} as const;

/** Name of an IMAGE_SUBSYSTEM_* value, or `0x…` when unknown. */
export function subsystemName(v: number): string {
  for (const [name, n] of Object.entries(SUBSYSTEM)) if (n === v) return name;
  return `0x${v.toString(16)}`;
}

/** COFF "Characteristics" flags (IMAGE_FILE_*). */
export const FILE_CHARACTERISTICS = {
  RELOCS_STRIPPED: 0x0001,
  EXECUTABLE_IMAGE: 0x0002,
  LINE_NUMS_STRIPPED: 0x0004,
  LOCAL_SYMS_STRIPPED: 0x0008,
  AGGRESSIVE_WS_TRIM: 0x0010,
  LARGE_ADDRESS_AWARE: 0x0020,
  BYTES_REVERSED_LO: 0x0080,
  "32BIT_MACHINE": 0x0100,
  DEBUG_STRIPPED: 0x0200,
  REMOVABLE_RUN_FROM_SWAP: 0x0400,
  NET_RUN_FROM_SWAP: 0x0800,
  SYSTEM: 0x1000,
  DLL: 0x2000,
  UP_SYSTEM_ONLY: 0x4000,
  BYTES_REVERSED_HI: 0x8000,
} as const;

/** Optional header "DllCharacteristics" flags (IMAGE_DLLCHARACTERISTICS_*). */
export const DLL_CHARACTERISTICS = {
  HIGH_ENTROPY_VA: 0x0020,
  DYNAMIC_BASE: 0x0040,
  FORCE_INTEGRITY: 0x0080,
  NX_COMPAT: 0x0100,
  NO_ISOLATION: 0x0200,
  NO_SEH: 0x0400,
  NO_BIND: 0x0800,
  APPCONTAINER: 0x1000,
  WDM_DRIVER: 0x2000,
  GUARD_CF: 0x4000,
  TERMINAL_SERVER_AWARE: 0x8000,
} as const;

/** Section "Characteristics" flags (IMAGE_SCN_*), the ones worth naming. */
export const SECTION_CHARACTERISTICS = {
  TYPE_NO_PAD: 0x00000008,
  CNT_CODE: 0x00000020,
  CNT_INITIALIZED_DATA: 0x00000040,
  CNT_UNINITIALIZED_DATA: 0x00000080,
  LNK_INFO: 0x00000200,
  LNK_REMOVE: 0x00000800,
  LNK_COMDAT: 0x00001000,
  GPREL: 0x00008000,
  LNK_NRELOC_OVFL: 0x01000000,
  MEM_DISCARDABLE: 0x02000000,
  MEM_NOT_CACHED: 0x04000000,
  MEM_NOT_PAGED: 0x08000000,
  MEM_SHARED: 0x10000000,
  MEM_EXECUTE: 0x20000000,
  MEM_READ: 0x40000000,
  MEM_WRITE: 0x80000000,
} as const;

/** Names of the flags set in `value`, from a flag table. */
export function flagNames(value: number, table: Readonly<Record<string, number>>): string[] {
  const out: string[] = [];
  for (const [name, bit] of Object.entries(table)) if ((value & bit) >>> 0 === bit) out.push(name);
  return out;
}

/** WIN_CERTIFICATE `wRevision` the spec and the kernel accept ("WIN_CERT_REVISION_2_0"). */
export const WIN_CERT_REVISION_2_0 = 0x0200;
/** WIN_CERTIFICATE `wCertificateType` for Authenticode ("WIN_CERT_TYPE_PKCS_SIGNED_DATA"). */
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
/** Size of the WIN_CERTIFICATE header (dwLength, wRevision, wCertificateType). */
export const WIN_CERTIFICATE_HEADER_SIZE = 8;

/** Names of the WIN_CERTIFICATE types. */
export const WIN_CERT_TYPE_NAMES: Readonly<Record<number, string>> = {
  0x0001: "X509",
  0x0002: "PKCS_SIGNED_DATA",
  0x0003: "RESERVED_1",
  0x0004: "TS_STACK_SIGNED",
  0x0ef0: "EFI_PKCS115",
  0x0ef1: "EFI_GUID",
};

/**
 * The COFF file header (spec: "COFF File Header (Object and Image)").
 */
export interface CoffHeader {
  Machine: number;
  NumberOfSections: number;
  TimeDateStamp: number;
  PointerToSymbolTable: number;
  NumberOfSymbols: number;
  SizeOfOptionalHeader: number;
  Characteristics: number;
}

/** One data directory ("IMAGE_DATA_DIRECTORY"). */
export interface DataDirectory {
  VirtualAddress: number;
  Size: number;
}

/**
 * The optional header, PE32 or PE32+ (spec: "Optional Header (Image Only)").
 * Fields that are 64-bit in PE32+ are `bigint` in both forms.
 */
export interface OptionalHeader {
  Magic: number;
  MajorLinkerVersion: number;
  MinorLinkerVersion: number;
  SizeOfCode: number;
  SizeOfInitializedData: number;
  SizeOfUninitializedData: number;
  AddressOfEntryPoint: number;
  BaseOfCode: number;
  /** PE32 only. */
  BaseOfData?: number;
  ImageBase: bigint;
  SectionAlignment: number;
  FileAlignment: number;
  MajorOperatingSystemVersion: number;
  MinorOperatingSystemVersion: number;
  MajorImageVersion: number;
  MinorImageVersion: number;
  MajorSubsystemVersion: number;
  MinorSubsystemVersion: number;
  Win32VersionValue: number;
  SizeOfImage: number;
  SizeOfHeaders: number;
  CheckSum: number;
  Subsystem: number;
  DllCharacteristics: number;
  SizeOfStackReserve: bigint;
  SizeOfStackCommit: bigint;
  SizeOfHeapReserve: bigint;
  SizeOfHeapCommit: bigint;
  LoaderFlags: number;
  NumberOfRvaAndSizes: number;
}

/** One section table entry ("Section Table (Section Headers)"). */
export interface SectionHeader {
  /**
   * The section name: the 8-byte field NUL-trimmed, or, for "/nnn", the
   * string it points to in the COFF string table ("a slash (/) that is
   * followed by an ASCII representation of a decimal number that is an
   * offset into the string table"), which images linked by binutils use.
   */
  Name: string;
  /** The raw 8-byte field, NUL-trimmed (equal to `Name` unless it was "/nnn"). */
  ShortName: string;
  VirtualSize: number;
  VirtualAddress: number;
  SizeOfRawData: number;
  PointerToRawData: number;
  PointerToRelocations: number;
  PointerToLinenumbers: number;
  NumberOfRelocations: number;
  NumberOfLinenumbers: number;
  Characteristics: number;
}
