/**
 * ELF constants, from include/uapi/linux/elf.h and the System V gABI, and
 * the note types the kernel emits (include/linux/elfnote.h,
 * include/linux/build-salt.h, include/linux/elfnote-lto.h,
 * include/xen/interface/elfnote.h).
 *
 * @module
 */

/** Format id of the ELF layer. */
export const ELF_LAYER = "elf";

/** `#define ELFMAG "\177ELF"`, `SELFMAG 4`. */
export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const;
/** e_ident indexes: `EI_CLASS 4`, `EI_DATA 5`, `EI_VERSION 6`, `EI_OSABI 7`, `EI_ABIVERSION 8`, `EI_NIDENT 16`. */
export const EI_CLASS = 4;
/** `#define EI_DATA 5`. */
export const EI_DATA = 5;
/** `#define EI_VERSION 6`. */
export const EI_VERSION = 6;
/** `#define EI_OSABI 7`. */
export const EI_OSABI = 7;
/** `#define EI_ABIVERSION 8` (gABI). */
export const EI_ABIVERSION = 8;
/** `#define EI_NIDENT 16`. */
export const EI_NIDENT = 16;
/** `#define ELFCLASS32 1`. */
export const ELFCLASS32 = 1;
/** `#define ELFCLASS64 2`. */
export const ELFCLASS64 = 2;
/** `#define ELFDATA2LSB 1`. */
export const ELFDATA2LSB = 1;
/** `#define ELFDATA2MSB 2`. */
export const ELFDATA2MSB = 2;
/** `#define EV_CURRENT 1`. */
export const EV_CURRENT = 1;

/** `#define ET_EXEC 2`. */
export const ET_EXEC = 2;
/** `#define ET_DYN 3`. */
export const ET_DYN = 3;
/** e_type names (`ET_NONE 0` … `ET_CORE 4`). */
export const ET_NAMES: Readonly<Record<number, string>> = { 0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE" };

/** e_machine names (elf-em.h) for the machines Linux kernels are built for. */
export const EM_NAMES: Readonly<Record<number, string>> = {
  2: "EM_SPARC",
  3: "EM_386",
  8: "EM_MIPS",
  15: "EM_PARISC",
  20: "EM_PPC",
  21: "EM_PPC64",
  22: "EM_S390",
  40: "EM_ARM",
  42: "EM_SH",
  43: "EM_SPARCV9",
  62: "EM_X86_64",
  183: "EM_AARCH64",
  243: "EM_RISCV",
  258: "EM_LOONGARCH",
};

/** Sizes by class: Elf32_Ehdr 52, Elf64_Ehdr 64; Elf32_Phdr 32, Elf64_Phdr 56; Elf32_Shdr 40, Elf64_Shdr 64. */
export const SIZES = {
  32: { ehdr: 52, phdr: 32, shdr: 40 },
  64: { ehdr: 64, phdr: 56, shdr: 64 },
} as const;

/** `#define PT_LOAD 1`. */
export const PT_LOAD = 1;
/** `#define PT_INTERP 3`. */
export const PT_INTERP = 3;
/** `#define PT_NOTE 4`. */
export const PT_NOTE = 4;
/** p_type names. */
export const PT_NAMES: Readonly<Record<number, string>> = {
  0: "PT_NULL",
  1: "PT_LOAD",
  2: "PT_DYNAMIC",
  3: "PT_INTERP",
  4: "PT_NOTE",
  5: "PT_SHLIB",
  6: "PT_PHDR",
  7: "PT_TLS",
  0x6474e550: "PT_GNU_EH_FRAME",
  0x6474e551: "PT_GNU_STACK",
  0x6474e552: "PT_GNU_RELRO",
  0x6474e553: "PT_GNU_PROPERTY",
};
/** p_flags bits: `PF_R 0x4`, `PF_W 0x2`, `PF_X 0x1`. */
export const PF_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x4, "R"],
  [0x2, "W"],
  [0x1, "X"],
];

/** `#define SHN_UNDEF 0`. */
export const SHN_UNDEF = 0;
/** gABI: `SHN_LORESERVE 0xff00`. */
export const SHN_LORESERVE = 0xff00;
/** gABI: `SHN_XINDEX 0xffff` (the real e_shstrndx is in section 0's sh_link). */
export const SHN_XINDEX = 0xffff;
/** gABI: `PN_XNUM 0xffff` (the real e_phnum is in section 0's sh_info). */
export const PN_XNUM = 0xffff;
/** `#define SHT_NOTE 7`. */
export const SHT_NOTE = 7;
/** `#define SHT_NOBITS 8`. */
export const SHT_NOBITS = 8;
/** sh_type names. */
export const SHT_NAMES: Readonly<Record<number, string>> = {
  0: "SHT_NULL",
  1: "SHT_PROGBITS",
  2: "SHT_SYMTAB",
  3: "SHT_STRTAB",
  4: "SHT_RELA",
  5: "SHT_HASH",
  6: "SHT_DYNAMIC",
  7: "SHT_NOTE",
  8: "SHT_NOBITS",
  9: "SHT_REL",
  10: "SHT_SHLIB",
  11: "SHT_DYNSYM",
  14: "SHT_INIT_ARRAY",
  15: "SHT_FINI_ARRAY",
  16: "SHT_PREINIT_ARRAY",
  17: "SHT_GROUP",
  18: "SHT_SYMTAB_SHNDX",
};

/** `#define NT_GNU_BUILD_ID 3` (owner "GNU"). */
export const NT_GNU_BUILD_ID = 3;
/** GNU note type names. */
export const GNU_NOTE_NAMES: Readonly<Record<number, string>> = {
  1: "NT_GNU_ABI_TAG",
  2: "NT_GNU_HWCAP",
  3: "NT_GNU_BUILD_ID",
  4: "NT_GNU_GOLD_VERSION",
  5: "NT_GNU_PROPERTY_TYPE_0",
};

/** include/linux/build-salt.h: `#define LINUX_ELFNOTE_BUILD_SALT 0x100` (owner "Linux"). */
export const LINUX_ELFNOTE_BUILD_SALT = 0x100;
/** include/linux/elfnote-lto.h: `#define LINUX_ELFNOTE_LTO_INFO 0x101` (owner "Linux"). */
export const LINUX_ELFNOTE_LTO_INFO = 0x101;
/** "Linux" note type names. */
export const LINUX_NOTE_NAMES: Readonly<Record<number, string>> = {
  [LINUX_ELFNOTE_BUILD_SALT]: "LINUX_ELFNOTE_BUILD_SALT",
  [LINUX_ELFNOTE_LTO_INFO]: "LINUX_ELFNOTE_LTO_INFO",
};

/** include/xen/interface/elfnote.h: `#define XEN_ELFNOTE_PHYS32_ENTRY 18`, the PVH entry point. */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/** Xen note types (include/xen/interface/elfnote.h) and whether the descriptor is a string or a number. */
export const XEN_NOTES: Readonly<Record<number, readonly [string, "string" | "number" | "bytes"]>> = {
  0: ["XEN_ELFNOTE_INFO", "string"],
  1: ["XEN_ELFNOTE_ENTRY", "number"],
  2: ["XEN_ELFNOTE_HYPERCALL_PAGE", "number"],
  3: ["XEN_ELFNOTE_VIRT_BASE", "number"],
  4: ["XEN_ELFNOTE_PADDR_OFFSET", "number"],
  5: ["XEN_ELFNOTE_XEN_VERSION", "string"],
  6: ["XEN_ELFNOTE_GUEST_OS", "string"],
  7: ["XEN_ELFNOTE_GUEST_VERSION", "string"],
  8: ["XEN_ELFNOTE_LOADER", "string"],
  9: ["XEN_ELFNOTE_PAE_MODE", "string"],
  10: ["XEN_ELFNOTE_FEATURES", "string"],
  11: ["XEN_ELFNOTE_BSD_SYMTAB", "string"],
  12: ["XEN_ELFNOTE_HV_START_LOW", "number"],
  13: ["XEN_ELFNOTE_L1_MFN_VALID", "bytes"],
  14: ["XEN_ELFNOTE_SUSPEND_CANCEL", "number"],
  15: ["XEN_ELFNOTE_INIT_P2M", "number"],
  16: ["XEN_ELFNOTE_MOD_START_PFN", "number"],
  17: ["XEN_ELFNOTE_SUPPORTED_FEATURES", "number"],
  18: ["XEN_ELFNOTE_PHYS32_ENTRY", "number"],
};
