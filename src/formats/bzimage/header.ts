/**
 * The x86 boot protocol's setup header (Documentation/arch/x86/boot.rst,
 * "The Real-Mode Kernel Header", through protocol 2.15) and the kernel_info
 * structure, with the spec's field names; and the probe rules of the
 * kernel's kexec bzImage64 loader (arch/x86/kernel/kexec-bzimage64.c,
 * `bzImage64_probe`) with its exact messages.
 *
 * Fields introduced after the file's protocol version are reported as absent
 * (`null`): "When setting fields in the header, you must make sure only to
 * set fields supported by the protocol version in use."
 *
 * @module
 */

import { ByteView } from "../../core/bytes.js";
import type { ErrorCode } from "../../core/errors.js";

/** Format id of the bzImage layer. */
export const BZIMAGE_LAYER = "bzimage";

/** "a sector" refers to 512 bytes (boot.rst, The Real-Mode Kernel Header). */
export const SECTOR = 512;
/** struct boot_params.hdr is at 0x1f1 (bootparam.h: `struct setup_header hdr;` at 0x1f1). */
export const SETUP_HEADER_OFFSET = 0x1f1;
/** "Contains the magic number "HdrS" (0x53726448)." at 0x202. */
export const HDRS_OFFSET = 0x202;
/** boot_flag: "Contains 0xAA55." */
export const BOOT_FLAG_MAGIC = 0xaa55;
/** kernel_info header: "Contains the magic number "LToP" (0x506f544c)." */
export const KERNEL_INFO_MAGIC = "LToP";

/** loadflags bits (bootparam.h `/* loadflags *\/`). */
export const LOADFLAGS: ReadonlyArray<readonly [number, string]> = [
  [1 << 0, "LOADED_HIGH"],
  [1 << 1, "KASLR_FLAG"],
  [1 << 5, "QUIET_FLAG"],
  [1 << 6, "KEEP_SEGMENTS"],
  [1 << 7, "CAN_USE_HEAP"],
];
/** LOADED_HIGH: "If 1, the protected-mode code is loaded at 0x100000." */
export const LOADED_HIGH = 1 << 0;

/** xloadflags bits (bootparam.h `/* xloadflags *\/`; XLF_MEM_ENCRYPTION is `(1<<7)` from 6.x). */
export const XLOADFLAGS: ReadonlyArray<readonly [number, string]> = [
  [1 << 0, "XLF_KERNEL_64"],
  [1 << 1, "XLF_CAN_BE_LOADED_ABOVE_4G"],
  [1 << 2, "XLF_EFI_HANDOVER_32"],
  [1 << 3, "XLF_EFI_HANDOVER_64"],
  [1 << 4, "XLF_EFI_KEXEC"],
  [1 << 5, "XLF_5LEVEL"],
  [1 << 6, "XLF_5LEVEL_ENABLED"],
  [1 << 7, "XLF_MEM_ENCRYPTION"],
];
/** "Bit 0 (read): XLF_KERNEL_64 - If 1, this kernel has the legacy 64-bit entry point at 0x200." */
export const XLF_KERNEL_64 = 1 << 0;
/** "Bit 1 (read): XLF_CAN_BE_LOADED_ABOVE_4G - If 1, kernel/boot_params/cmdline/ramdisk can be above 4G." */
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
/** bootparam.h: `#define XLF_5LEVEL (1<<5)`. */
export const XLF_5LEVEL = 1 << 5;

/** Names of the set bits of `value`, plus `0x…` for unknown bits. */
export function bitNames(value: number, table: ReadonlyArray<readonly [number, string]>): string[] {
  const out: string[] = [];
  let rest = value;
  for (const [bit, name] of table) {
    if (value & bit) {
      out.push(name);
      rest &= ~bit;
    }
  }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}

/**
 * The setup header, by the spec's names. A field is `null` when the file's
 * protocol version predates it (or, for "old" kernels without "HdrS", for
 * every 2.00+ field), or when the file is too short to hold it.
 * 64-bit fields are bigints.
 */
export interface SetupHeader {
  /** 01F1/1 ALL: "The size of the setup in sectors" (raw; 0 means 4). */
  setup_sects: number | null;
  /** 01F2/2 ALL: "If set, the root is mounted readonly". */
  root_flags: number | null;
  /** 01F4/4 2.04+ (2 bytes before): "The size of the 32-bit code in 16-byte paras". */
  syssize: number | null;
  /** 01F8/2 ALL: "DO NOT USE - for bootsect.S use only". */
  ram_size: number | null;
  /** 01FA/2 ALL: "Video mode control". */
  vid_mode: number | null;
  /** 01FC/2 ALL: "Default root device number". */
  root_dev: number | null;
  /** 01FE/2 ALL: "0xAA55 magic number". */
  boot_flag: number | null;
  /** 0200/2 2.00+: "Jump instruction" (0xEB followed by a signed offset relative to 0x202). */
  jump: number | null;
  /** 0202/4 2.00+: "Magic signature "HdrS"". */
  header: string | null;
  /** 0206/2 2.00+: "Boot protocol version supported", (major << 8) + minor. */
  version: number | null;
  /** 0208/4 2.00+: "Boot loader hook". */
  realmode_swtch: number | null;
  /** 020C/2 2.00+: "The load-low segment (0x1000) (obsolete)". */
  start_sys_seg: number | null;
  /** 020E/2 2.00+: "Pointer to kernel version string" (less 0x200). */
  kernel_version: number | null;
  /** 0210/1 2.00+: "Boot loader identifier". */
  type_of_loader: number | null;
  /** 0211/1 2.00+: "Boot protocol option flags". */
  loadflags: number | null;
  /** 0212/2 2.00+: "Move to high memory size (used with hooks)". */
  setup_move_size: number | null;
  /** 0214/4 2.00+: "Boot loader hook". */
  code32_start: number | null;
  /** 0218/4 2.00+: "initrd load address (set by boot loader)". */
  ramdisk_image: number | null;
  /** 021C/4 2.00+: "initrd size (set by boot loader)". */
  ramdisk_size: number | null;
  /** 0220/4 2.00+: "DO NOT USE - for bootsect.S use only". */
  bootsect_kludge: number | null;
  /** 0224/2 2.01+: "Free memory after setup end". */
  heap_end_ptr: number | null;
  /** 0226/1 2.02+: "Extended boot loader version". */
  ext_loader_ver: number | null;
  /** 0227/1 2.02+: "Extended boot loader ID". */
  ext_loader_type: number | null;
  /** 0228/4 2.02+: "32-bit pointer to the kernel command line". */
  cmd_line_ptr: number | null;
  /** 022C/4 2.03+: "Highest legal initrd address". */
  initrd_addr_max: number | null;
  /** 0230/4 2.05+: "Physical addr alignment required for kernel". */
  kernel_alignment: number | null;
  /** 0234/1 2.05+: "Whether kernel is relocatable or not". */
  relocatable_kernel: number | null;
  /** 0235/1 2.10+: "Minimum alignment, as a power of two". */
  min_alignment: number | null;
  /** 0236/2 2.12+: "Boot protocol option flags". */
  xloadflags: number | null;
  /** 0238/4 2.06+: "Maximum size of the kernel command line". */
  cmdline_size: number | null;
  /** 023C/4 2.07+: "Hardware subarchitecture". */
  hardware_subarch: number | null;
  /** 0240/8 2.07+: "Subarchitecture-specific data". */
  hardware_subarch_data: bigint | null;
  /** 0248/4 2.08+: "Offset of kernel payload". */
  payload_offset: number | null;
  /** 024C/4 2.08+: "Length of kernel payload". */
  payload_length: number | null;
  /** 0250/8 2.09+: "64-bit physical pointer to linked list of struct setup_data". */
  setup_data: bigint | null;
  /** 0258/8 2.10+: "Preferred loading address". */
  pref_address: bigint | null;
  /** 0260/4 2.10+: "Linear memory required during initialization". */
  init_size: number | null;
  /** 0264/4 2.11+: "Offset of handover entry point". */
  handover_offset: number | null;
  /** 0268/4 2.15+: "Offset of the kernel_info". */
  kernel_info_offset: number | null;
}

type Width = 1 | 2 | 4 | 8;

/**
 * The header table of boot.rst: name, offset, size and the protocol that
 * introduced the field (0 = ALL). Versions are (major << 8) + minor.
 */
export const SETUP_HEADER_FIELDS: ReadonlyArray<readonly [keyof SetupHeader, number, Width, number]> = [
  ["setup_sects", 0x1f1, 1, 0], // 01F1/1  ALL(1)  setup_sects
  ["root_flags", 0x1f2, 2, 0], // 01F2/2  ALL  root_flags
  ["syssize", 0x1f4, 4, 0], // 01F4/4  2.04+(2)  syssize (2 bytes before 2.04, below)
  ["ram_size", 0x1f8, 2, 0], // 01F8/2  ALL  ram_size
  ["vid_mode", 0x1fa, 2, 0], // 01FA/2  ALL  vid_mode
  ["root_dev", 0x1fc, 2, 0], // 01FC/2  ALL  root_dev
  ["boot_flag", 0x1fe, 2, 0], // 01FE/2  ALL  boot_flag
  ["jump", 0x200, 2, 0x200], // 0200/2  2.00+  jump
  ["header", 0x202, 4, 0x200], // 0202/4  2.00+  header
  ["version", 0x206, 2, 0x200], // 0206/2  2.00+  version
  ["realmode_swtch", 0x208, 4, 0x200], // 0208/4  2.00+  realmode_swtch
  ["start_sys_seg", 0x20c, 2, 0x200], // 020C/2  2.00+  start_sys_seg
  ["kernel_version", 0x20e, 2, 0x200], // 020E/2  2.00+  kernel_version
  ["type_of_loader", 0x210, 1, 0x200], // 0210/1  2.00+  type_of_loader
  ["loadflags", 0x211, 1, 0x200], // 0211/1  2.00+  loadflags
  ["setup_move_size", 0x212, 2, 0x200], // 0212/2  2.00+  setup_move_size
  ["code32_start", 0x214, 4, 0x200], // 0214/4  2.00+  code32_start
  ["ramdisk_image", 0x218, 4, 0x200], // 0218/4  2.00+  ramdisk_image
  ["ramdisk_size", 0x21c, 4, 0x200], // 021C/4  2.00+  ramdisk_size
  ["bootsect_kludge", 0x220, 4, 0x200], // 0220/4  2.00+  bootsect_kludge
  ["heap_end_ptr", 0x224, 2, 0x201], // 0224/2  2.01+  heap_end_ptr
  ["ext_loader_ver", 0x226, 1, 0x202], // 0226/1  2.02+(3)  ext_loader_ver
  ["ext_loader_type", 0x227, 1, 0x202], // 0227/1  2.02+(3)  ext_loader_type
  ["cmd_line_ptr", 0x228, 4, 0x202], // 0228/4  2.02+  cmd_line_ptr
  ["initrd_addr_max", 0x22c, 4, 0x203], // 022C/4  2.03+  initrd_addr_max
  ["kernel_alignment", 0x230, 4, 0x205], // 0230/4  2.05+  kernel_alignment
  ["relocatable_kernel", 0x234, 1, 0x205], // 0234/1  2.05+  relocatable_kernel
  ["min_alignment", 0x235, 1, 0x20a], // 0235/1  2.10+  min_alignment
  ["xloadflags", 0x236, 2, 0x20c], // 0236/2  2.12+  xloadflags
  ["cmdline_size", 0x238, 4, 0x206], // 0238/4  2.06+  cmdline_size
  ["hardware_subarch", 0x23c, 4, 0x207], // 023C/4  2.07+  hardware_subarch
  ["hardware_subarch_data", 0x240, 8, 0x207], // 0240/8  2.07+  hardware_subarch_data
  ["payload_offset", 0x248, 4, 0x208], // 0248/4  2.08+  payload_offset
  ["payload_length", 0x24c, 4, 0x208], // 024C/4  2.08+  payload_length
  ["setup_data", 0x250, 8, 0x209], // 0250/8  2.09+  setup_data
  ["pref_address", 0x258, 8, 0x20a], // 0258/8  2.10+  pref_address
  ["init_size", 0x260, 4, 0x20a], // 0260/4  2.10+  init_size
  ["handover_offset", 0x264, 4, 0x20b], // 0264/4  2.11+  handover_offset
  ["kernel_info_offset", 0x268, 4, 0x20f], // 0268/4  2.15+  kernel_info_offset
];

/** End of the 2.15 setup header (0x268 + 4). */
export const SETUP_HEADER_END = 0x26c;

/**
 * Reads the setup header. Never throws: fields past the end of `v` or
 * introduced after the file's protocol are null. A file without "HdrS" is
 * protocol "old": "If the "HdrS" (0x53726448) magic number is not found at
 * offset 0x202, the boot protocol version is "old"".
 */
export function readSetupHeader(v: ByteView): SetupHeader {
  const hasHdrS = v.matches(HDRS_OFFSET, "HdrS");
  const version = hasHdrS && v.has(0x206, 2) ? v.u16le(0x206, "version") : 0;
  const out: Record<string, number | bigint | string | null> = {};
  for (const [name, off, width, since] of SETUP_HEADER_FIELDS) {
    let w: Width = width;
    // "For protocol versions older than 2.04 this field is only two bytes wide"
    if (name === "syssize" && version < 0x204) w = 2;
    if (since > version || !v.has(off, w)) {
      out[name] = null;
      continue;
    }
    if (name === "header") {
      out[name] = v.cstring(off, 4, name);
      continue;
    }
    out[name] = w === 1 ? v.u8(off, name) : w === 2 ? v.u16le(off, name) : w === 4 ? v.u32le(off, name) : v.u64le(off, name);
  }
  return out as unknown as SetupHeader;
}

/** "If this field is 0, the real value is 4." */
export function effectiveSetupSects(h: SetupHeader): number {
  return h.setup_sects === null || h.setup_sects === 0 ? 4 : h.setup_sects;
}

/** The kernel_info structure (boot.rst, "Details of the kernel_info Fields"). */
export interface KernelInfo {
  /** Absolute offset of kernel_info. */
  offset: number;
  /** 0x0000/4: "Contains the magic number "LToP" (0x506f544c)." */
  header: string;
  /** 0x0004/4: "the size of the kernel_info including kernel_info.header" (fixed part). */
  size: number;
  /** 0x0008/4: "the size of the kernel_info including kernel_info.header and kernel_info.kernel_info_var_len_data". */
  size_total: number;
  /** 0x000c/4: "maximal allowed type for setup_data and setup_indirect structs" (null when `size` does not cover it). */
  setup_type_max: number | null;
}

/**
 * Reads kernel_info at `at` (view-relative): "kernel_info_offset ... the
 * offset from the beginning of the kernel image to the kernel_info", the
 * kernel image being the protected-mode code. Returns a problem string
 * instead when the structure is absent or unbounded. Never throws.
 */
export function readKernelInfo(v: ByteView, at: number): KernelInfo | string {
  if (!v.has(at, 12)) return `kernel_info at 0x${v.abs(at).toString(16)} runs past the end of the file`;
  if (!v.matches(at, KERNEL_INFO_MAGIC)) return `no "LToP" at kernel_info 0x${v.abs(at).toString(16)}`;
  const size = v.u32le(at + 4, "kernel_info.size");
  const size_total = v.u32le(at + 8, "kernel_info.size_total");
  if (size < 12 || size_total < size || !v.has(at, size_total)) {
    return `kernel_info size ${size} / size_total ${size_total} is inconsistent or runs past the end of the file`;
  }
  const setup_type_max = size >= 16 ? v.u32le(at + 12, "kernel_info.setup_type_max") : null;
  return { offset: v.abs(at), header: KERNEL_INFO_MAGIC, size, size_total, setup_type_max };
}

/** One failed check of `bzImage64_probe`, with the kernel's message. */
export interface KexecCheck {
  code: ErrorCode;
  /** The kernel's pr_err message, verbatim (without the trailing newline). */
  message: string;
  /** Absolute offset of the field tested. */
  offset: number;
}

/**
 * The checks of `bzImage64_probe` (arch/x86/kernel/kexec-bzimage64.c), in its
 * order. The kernel returns at the first failure; all failures are listed
 * here, first one first. Host-dependent checks (32-bit EFI, 5-level paging)
 * are not applied. Like the kernel, the fields are read from the raw bytes
 * whatever the protocol version.
 */
export function kexecBzImage64Checks(v: ByteView): KexecCheck[] {
  const out: KexecCheck[] = [];
  // The kernel reads the raw struct whatever the protocol; so do these checks.
  const loadflags = v.has(0x211, 1) ? v.u8(0x211, "loadflags") : 0;
  const xloadflags = v.has(0x236, 2) ? v.u16le(0x236, "xloadflags") : 0;
  const boot_flag = v.has(0x1fe, 2) ? v.u16le(0x1fe, "boot_flag") : null;
  const version = v.has(0x206, 2) ? v.u16le(0x206, "version") : 0;
  // "/* kernel should be at least two sectors long */ if (len < 2 * 512)"
  if (v.length < 2 * SECTOR) out.push({ code: "bzimage-too-short", message: "File is too short to be a bzImage", offset: v.abs(0) });
  // "if (memcmp((char *)&header->header, "HdrS", 4) != 0)"
  if (!v.matches(HDRS_OFFSET, "HdrS")) out.push({ code: "bzimage-no-hdrs", message: "Not a bzImage", offset: v.abs(HDRS_OFFSET) });
  // "if (header->boot_flag != 0xAA55)"
  if (boot_flag !== BOOT_FLAG_MAGIC) out.push({ code: "bzimage-no-boot-flag", message: "No x86 boot sector present", offset: v.abs(0x1fe) });
  // "if (header->version < 0x020C)"
  if (version < 0x20c) out.push({ code: "bzimage-old-protocol", message: "Must be at least protocol version 2.12", offset: v.abs(0x206) });
  // "if (!(header->loadflags & LOADED_HIGH))"
  if (!(loadflags & LOADED_HIGH)) out.push({ code: "bzimage-not-loaded-high", message: "zImage not a bzImage", offset: v.abs(0x211) });
  // "if (!(header->xloadflags & XLF_KERNEL_64))"
  if (!(xloadflags & XLF_KERNEL_64)) out.push({ code: "bzimage-not-64", message: "Not a bzImage64. XLF_KERNEL_64 is not set.", offset: v.abs(0x236) });
  // "if (!(header->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G))"
  if (!(xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G)) {
    out.push({ code: "bzimage-not-above-4g", message: "XLF_CAN_BE_LOADED_ABOVE_4G is not set.", offset: v.abs(0x236) });
  }
  return out;
}
