/**
 * The x86 "zero page" (`struct boot_params`, arch/x86/include/uapi/asm/bootparam.h)
 * as kexec_file_load builds it: arch/x86/kernel/kexec-bzimage64.c
 * `bzImage64_load`, `setup_cmdline`, `setup_initrd`, `setup_boot_parameters`,
 * `setup_e820_entries` and `setup_rng_seed`, as pure functions.
 *
 * The kernel allocates boot_params, the command line and its setup_data in
 * **one** buffer, one segment:
 *
 * ```
 * params_cmdline_sz = sizeof(struct boot_params) + cmdline_len + MAX_ELFCOREHDR_STR_LEN;
 * if (image->dm_crypt_keys_addr) params_cmdline_sz += MAX_DMCRYPTKEYS_STR_LEN;
 * params_cmdline_sz = ALIGN(params_cmdline_sz, 16);
 * kbuf.bufsz = params_cmdline_sz + ALIGN(efi_map_sz, 16) +
 *              sizeof(struct setup_data) + sizeof(struct efi_setup_data) +
 *              sizeof(struct setup_data) + RNG_SEED_LENGTH;
 * ...
 * efi_map_offset = params_cmdline_sz;
 * efi_setup_data_offset = efi_map_offset + ALIGN(efi_map_sz, 16);
 * ```
 *
 * so the layout is `[boot_params 4096][command line][pad to 16][EFI map]
 * [setup_data + efi_setup_data][setup_data + 32-byte RNG seed]`. kimage
 * builds the layout of a CONFIG_EFI kernel without a DTB to carry over,
 * without CONFIG_IMA_KEXEC and without CONFIG_KEXEC_HANDOVER (the
 * `config` option of {@link bootParamsLayout} adds those slots), and
 * fills no EFI state: a plan describes no EFI runtime ("if
 * (!efi_enabled(EFI_RUNTIME_SERVICES)) return 0;"), so the EFI slot stays
 * zero and unlinked.
 *
 * @module
 */

import { KimageError } from "../../core/errors.js";
import { PLAN_LAYER } from "../core/allocator.js";
import type { MemoryMap, MemoryType } from "../core/memory.js";

/** `sizeof(struct boot_params)`: the zero page is one 4 KiB page. */
export const BOOT_PARAMS_SIZE = 4096;
/** `offsetof(struct boot_params, hdr)`: "struct setup_header hdr; /* setup header *\/ /* 0x1f1 *\/". */
export const SETUP_HDR_OFFSET = 0x1f1;
/** bootparam.h: `#define E820_MAX_ENTRIES_ZEROPAGE 128`. */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;
/** `sizeof(struct boot_e820_entry)`: `__u64 addr; __u64 size; __u32 type;` packed. */
export const E820_ENTRY_SIZE = 20;
/** setup_data.h: `#define SETUP_RNG_SEED 9`. */
export const SETUP_RNG_SEED = 9;
/** setup_data.h: `#define SETUP_KEXEC_KHO 10`. */
export const SETUP_KEXEC_KHO = 10;
/** kexec-bzimage64.c: `enum { RNG_SEED_LENGTH = 32 };`. */
export const RNG_SEED_LENGTH = 32;
/** `sizeof(struct setup_data)`: `__u64 next; __u32 type; __u32 len; __u8 data[];`. */
export const SETUP_DATA_HEADER_SIZE = 16;
/** `sizeof(struct efi_setup_data)` (asm/efi.h: fw_vendor, __unused, tables, smbios, reserved[8]: 12 × u64). */
export const EFI_SETUP_DATA_SIZE = 96;
/** `sizeof(struct ima_setup_data)` (setup_data.h: `__u64 addr; __u64 size;`). */
export const IMA_SETUP_DATA_SIZE = 16;
/** `sizeof(struct kho_data)` (setup_data.h: fdt_addr, fdt_size, scratch_addr, scratch_size). */
export const KHO_DATA_SIZE = 32;
/** kexec-bzimage64.c: `#define MAX_ELFCOREHDR_STR_LEN 30 /* elfcorehdr=0x<64bit-value> *\/`. */
export const MAX_ELFCOREHDR_STR_LEN = 30;
/** kexec-bzimage64.c: `#define MAX_DMCRYPTKEYS_STR_LEN 31 /* dmcryptkeys=0x<64bit-value> *\/`. */
export const MAX_DMCRYPTKEYS_STR_LEN = 31;
/** kexec-bzimage64.c: `params->hdr.type_of_loader = 0x0D << 4;` (boot.rst: "D  kexec-tools"). */
export const KEXEC_TYPE_OF_LOADER = 0x0d << 4;

/**
 * Offsets of the struct boot_params fields kimage writes or reads
 * (bootparam.h comments; setup header fields at 0x1f1 + their offset in
 * struct setup_header, as in boot.rst's table).
 */
export const BOOT_PARAMS_OFFSETS = {
  /** screen_info.ext_mem_k (`__u16`, screen_info at 0x000, ext_mem_k its second field). */
  ext_mem_k: 0x002,
  /** `__u64 acpi_rsdp_addr; /* 0x070 *\/`. */
  acpi_rsdp_addr: 0x070,
  /** `__u32 ext_ramdisk_image; /* 0x0c0 *\/`. */
  ext_ramdisk_image: 0x0c0,
  /** `__u32 ext_ramdisk_size; /* 0x0c4 *\/`. */
  ext_ramdisk_size: 0x0c4,
  /** `__u32 ext_cmd_line_ptr; /* 0x0c8 *\/`. */
  ext_cmd_line_ptr: 0x0c8,
  /** `__u32 alt_mem_k; /* 0x1e0 *\/`. */
  alt_mem_k: 0x1e0,
  /** `__u8 e820_entries; /* 0x1e8 *\/`. */
  e820_entries: 0x1e8,
  /** `__u8 sentinel; /* 0x1ef *\/`. */
  sentinel: 0x1ef,
  /** `struct setup_header hdr; /* 0x1f1 *\/`. */
  hdr: 0x1f1,
  /** hdr.type_of_loader (0210/1). */
  type_of_loader: 0x210,
  /** hdr.loadflags (0211/1). */
  loadflags: 0x211,
  /** hdr.code32_start (0214/4). */
  code32_start: 0x214,
  /** hdr.ramdisk_image (0218/4). */
  ramdisk_image: 0x218,
  /** hdr.ramdisk_size (021C/4). */
  ramdisk_size: 0x21c,
  /** hdr.cmd_line_ptr (0228/4). */
  cmd_line_ptr: 0x228,
  /** hdr.hardware_subarch (023C/4). */
  hardware_subarch: 0x23c,
  /** hdr.setup_data (0250/8). */
  setup_data: 0x250,
  /** `struct boot_e820_entry e820_table[E820_MAX_ENTRIES_ZEROPAGE]; /* 0x2d0 *\/`. */
  e820_table: 0x2d0,
} as const;

/** e820 type numbers (arch/x86/include/asm/e820/types.h). */
export const E820_TYPE = {
  RAM: 1,
  RESERVED: 2,
  ACPI: 3,
  NVS: 4,
  UNUSABLE: 5,
  PMEM: 7,
  SOFT_RESERVED: 0xefffffff,
} as const;

/** One entry of the zero page's e820 table (`struct boot_e820_entry`). */
export interface BootE820Entry {
  addr: bigint;
  size: bigint;
  type: number;
}

/**
 * The e820 type of a kimage memory type. `crash` is RAM: the crash kernel
 * region is carved out of System RAM in /proc/iomem, but it stays
 * `E820_TYPE_RAM` in `e820_table_kexec`, which is what a normal kexec
 * passes on ("nr_e820_entries = e820_table_kexec->nr_entries").
 */
export function e820TypeOf(type: MemoryType): number {
  switch (type) {
    case "ram":
    case "crash":
      return E820_TYPE.RAM;
    case "reserved":
      return E820_TYPE.RESERVED;
    case "acpi":
      return E820_TYPE.ACPI;
    case "nvs":
      return E820_TYPE.NVS;
    case "unusable":
      return E820_TYPE.UNUSABLE;
    case "pmem":
      return E820_TYPE.PMEM;
    case "soft-reserved":
      return E820_TYPE.SOFT_RESERVED;
  }
}

/**
 * The e820 table of a memory map: one entry per region in address order,
 * with adjacent regions of the same e820 type merged (e.g. RAM next to a
 * crash region), gaps left out, as the kernel's sanitized
 * `e820_table_kexec` would be. Not truncated: {@link buildBootParams}
 * applies the zero page's limit of 128.
 */
export function e820FromMemoryMap(map: MemoryMap): BootE820Entry[] {
  const out: BootE820Entry[] = [];
  for (const r of map.regions) {
    const type = e820TypeOf(r.type);
    const last = out[out.length - 1];
    if (last && last.type === type && last.addr + last.size === r.start) out[out.length - 1] = { addr: last.addr, size: last.size + r.size, type };
    else out.push({ addr: r.start, size: r.size, type });
  }
  return out;
}

/**
 * The kernel's name of an e820 type, as `e820_print_type()` prints it in
 * "BIOS-e820: [mem 0x…-0x…] NAME" lines (arch/x86/kernel/e820.c).
 */
export function e820TypeName(type: number): string {
  switch (type) {
    case 1:
    case 128:
      return "usable";
    case 2:
      return "reserved";
    case 0xefffffff:
      return "soft reserved";
    case 3:
      return "ACPI data";
    case 4:
      return "ACPI NVS";
    case 5:
      return "unusable";
    case 7:
    case 12:
      return `persistent (type ${type})`;
    default:
      return `type ${type}`;
  }
}

/**
 * Length of the setup header the kernel copies from the image
 * (kexec-bzimage64.c): `setup_header_size = 0x0202 + kernel[0x0201] -
 * setup_hdr_offset;` — boot.rst: "The end of setup header can be
 * calculated as follow: 0x0202 + byte value at offset 0x0201". The kernel
 * sets no limit ("Is there a limit on setup header size?"): a jump byte of
 * 0xff copies 0x110 bytes, past `hdr` into `_pad7` and the start of
 * `e820_table`, which setup_e820_entries then overwrites entry by entry.
 */
export function setupHeaderSize(kernel: Uint8Array): number {
  if (kernel.length < 0x202) badArg(`the kernel is ${kernel.length} bytes: no jump byte at 0x201`);
  return 0x0202 + kernel[0x0201]! - SETUP_HDR_OFFSET;
}

/** Which optional setup_data slots the kernel that builds the buffer reserves. */
export interface BootParamsConfig {
  /** CONFIG_EFI: a setup_data + efi_setup_data slot (default true, as Debian). */
  efi?: boolean;
  /** Bytes of the EFI runtime map (`efi_get_runtime_map_size()`; default 0: no EFI runtime). */
  efiMapSize?: number;
  /** CONFIG_IMA_KEXEC: a setup_data + ima_setup_data slot (default false). */
  ima?: boolean;
  /** CONFIG_KEXEC_HANDOVER: a setup_data + kho_data slot (default false). */
  kho?: boolean;
  /** `image->force_dtb && initial_boot_params`: bytes of the DTB carried over (default 0: none). The slot is reserved; kimage does not fill it. */
  dtbSize?: number;
}

/** Where each part of the bootparams buffer sits (offsets from its start). */
export interface BootParamsLayout {
  /** `cmdline_len`: the command line bytes including their NUL (0 for none). */
  cmdlineLen: number;
  /** The command line: `setup_cmdline(..., sizeof(struct boot_params), ...)`. */
  cmdlineOffset: number;
  /** `params_cmdline_sz` = ALIGN(4096 + cmdline_len + 30 [+ 31], 16). */
  paramsCmdlineSize: number;
  /** `efi_map_offset = params_cmdline_sz`. */
  efiMapOffset: number;
  /** `efi_setup_data_offset = efi_map_offset + ALIGN(efi_map_sz, 16)`. */
  efiSetupDataOffset: number;
  /** The DTB setup_data slot, or null. */
  dtbSetupDataOffset: number | null;
  /** The IMA setup_data slot, or null. */
  imaSetupDataOffset: number | null;
  /** The KHO setup_data slot, or null. */
  khoSetupDataOffset: number | null;
  /** The RNG seed setup_data (`setup_rng_seed(params, params_load_addr, setup_data_offset)`). */
  rngSeedOffset: number;
  /** `kbuf.bufsz` (= `kbuf.memsz` before page rounding). */
  bufsz: number;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

/**
 * The layout of the bootparams buffer for a command line of `cmdlineLen`
 * bytes (NUL included), following bzImage64_load and setup_boot_parameters
 * (which advances `setup_data_offset` past the EFI, DTB, IMA and KHO slots
 * in that order before `setup_rng_seed`).
 */
export function bootParamsLayout(cmdlineLen: number, options: { dmCryptKeys?: boolean; config?: BootParamsConfig } = {}): BootParamsLayout {
  const c = options.config ?? {};
  const efi = c.efi ?? true;
  const efiMapSize = c.efiMapSize ?? 0;
  if (!Number.isSafeInteger(cmdlineLen) || cmdlineLen < 0) badArg(`cmdline_len ${cmdlineLen} is not a size`);
  // params_cmdline_sz = sizeof(struct boot_params) + cmdline_len + MAX_ELFCOREHDR_STR_LEN;
  let paramsCmdlineSize = BOOT_PARAMS_SIZE + cmdlineLen + MAX_ELFCOREHDR_STR_LEN;
  // if (image->dm_crypt_keys_addr) params_cmdline_sz += MAX_DMCRYPTKEYS_STR_LEN;
  if (options.dmCryptKeys) paramsCmdlineSize += MAX_DMCRYPTKEYS_STR_LEN;
  // params_cmdline_sz = ALIGN(params_cmdline_sz, 16);
  paramsCmdlineSize = align16(paramsCmdlineSize);
  const efiMapOffset = paramsCmdlineSize;
  const efiSetupDataOffset = efiMapOffset + align16(efiMapSize);
  // setup_boot_parameters: "#ifdef CONFIG_EFI ... setup_data_offset += sizeof(struct setup_data) + sizeof(struct efi_setup_data);"
  let off = efiSetupDataOffset + (efi ? SETUP_DATA_HEADER_SIZE + EFI_SETUP_DATA_SIZE : 0);
  let dtbSetupDataOffset: number | null = null;
  if (c.dtbSize) {
    dtbSetupDataOffset = off;
    off += SETUP_DATA_HEADER_SIZE + c.dtbSize;
  }
  let imaSetupDataOffset: number | null = null;
  if (c.ima) {
    imaSetupDataOffset = off;
    off += SETUP_DATA_HEADER_SIZE + IMA_SETUP_DATA_SIZE;
  }
  let khoSetupDataOffset: number | null = null;
  if (c.kho) {
    khoSetupDataOffset = off;
    off += SETUP_DATA_HEADER_SIZE + KHO_DATA_SIZE;
  }
  const rngSeedOffset = off;
  // kbuf.bufsz = params_cmdline_sz + ALIGN(efi_map_sz, 16) + sizeof(struct setup_data) +
  //              sizeof(struct efi_setup_data) + sizeof(struct setup_data) + RNG_SEED_LENGTH;
  // (the efi_setup_data slot is in bufsz even without CONFIG_EFI; the DTB/IMA/KHO ones only when present)
  let bufsz = paramsCmdlineSize + align16(efiMapSize) + SETUP_DATA_HEADER_SIZE + EFI_SETUP_DATA_SIZE + SETUP_DATA_HEADER_SIZE + RNG_SEED_LENGTH;
  if (c.dtbSize) bufsz += SETUP_DATA_HEADER_SIZE + c.dtbSize;
  if (c.ima) bufsz += SETUP_DATA_HEADER_SIZE + IMA_SETUP_DATA_SIZE;
  if (c.kho) bufsz += SETUP_DATA_HEADER_SIZE + KHO_DATA_SIZE;
  return {
    cmdlineLen,
    cmdlineOffset: BOOT_PARAMS_SIZE,
    paramsCmdlineSize,
    efiMapOffset,
    efiSetupDataOffset,
    dtbSetupDataOffset,
    imaSetupDataOffset,
    khoSetupDataOffset,
    rngSeedOffset,
    bufsz,
  };
}

/** The command line as kexec_file_load receives it: its bytes and a NUL ("command line should be a string with last byte null"). */
export function kexecCmdlineBytes(cmdline: string | undefined): Uint8Array {
  if (cmdline === undefined) return new Uint8Array(0);
  if (cmdline.includes("\0")) badArg("the command line contains a NUL byte: the kernel would see only what precedes it");
  const s = new TextEncoder().encode(cmdline);
  const out = new Uint8Array(s.length + 1);
  out.set(s);
  return out;
}

/** Inputs of {@link buildBootParams}. */
export interface BootParamsInput {
  /** The bzImage (the bytes kexec_file_load receives): its setup header is copied. */
  kernel: Uint8Array;
  /** `bootparam_load_addr`: where the buffer is placed. */
  loadAddr: bigint;
  /** The command line bytes with their NUL ({@link kexecCmdlineBytes}); empty for none. */
  cmdline: Uint8Array;
  /** The layout (from {@link bootParamsLayout} with the same cmdline length). */
  layout: BootParamsLayout;
  /** The initrd as placed: `setup_initrd(params, initrd_load_addr, initrd_len)`. */
  initrd?: { addr: bigint; size: bigint };
  /** The e820 table (`e820_table_kexec`, or crash_setup_memmap_entries' for a crash image); truncated to 128. */
  e820: readonly BootE820Entry[];
  /** 32 bytes for the SETUP_RNG_SEED setup_data ("if (!rng_is_initialized()) return;": absent without them). */
  rngSeed?: Uint8Array;
  /** A crash image: "elfcorehdr=0x%lx " (and "dmcryptkeys=0x%lx ") go before the command line. */
  crash?: { elfcorehdr: bigint; dmCryptKeys?: bigint };
  /** The first kernel's `boot_params.acpi_rsdp_addr` ("Always fill in RSDP: it is either 0 or a valid value"); default 0. */
  acpiRsdpAddr?: bigint;
  /** The first kernel's `boot_params.hdr.hardware_subarch` ("Get subarch from existing bootparams"); default 0 (X86_SUBARCH_PC). */
  hardwareSubarch?: number;
}

/** The built buffer and the values written, JSON-ready (hex strings for addresses). */
export interface BuiltBootParams {
  /** The whole bootparams segment buffer (`kbuf.bufsz` bytes). */
  bytes: Uint8Array;
  /** Bytes of the setup header copied from the image. */
  setupHeaderSize: number;
  /** The final command line as the kernel reads it (prefix for a crash image included, without the NUL). */
  cmdline: string;
  /** Physical address of the command line. */
  cmdlinePhys: bigint;
  /** The e820 entries written (at most 128). */
  e820: BootE820Entry[];
  /** How many entries beyond 128 were dropped (the kernel's "TODO: Pass entries more than E820_MAX_ENTRIES_ZEROPAGE in bootparams setup data"). */
  e820Dropped: number;
  /** Physical address of the RNG seed setup_data, or null. */
  rngSeedPhys: bigint | null;
  /** screen_info.ext_mem_k and alt_mem_k as setup_boot_parameters computes them. */
  extMemK: number;
  altMemK: number;
}

function badArg(message: string): never {
  throw new KimageError("bad-argument", message, { layer: PLAN_LAYER, offset: -1 });
}

/**
 * Builds the bootparams buffer exactly as bzImage64_load and
 * setup_boot_parameters fill it, for a buffer placed at `loadAddr`.
 *
 * @throws KimageError `bad-argument` for inconsistent inputs (a layout for
 *   another command line length, a seed that is not 32 bytes).
 */
export function buildBootParams(input: BootParamsInput): BuiltBootParams {
  const L = input.layout;
  if (input.cmdline.length !== L.cmdlineLen) badArg(`the layout is for a ${L.cmdlineLen}-byte command line, not ${input.cmdline.length}`);
  if (input.rngSeed && input.rngSeed.length !== RNG_SEED_LENGTH) badArg(`the RNG seed is ${input.rngSeed.length} bytes, not ${RNG_SEED_LENGTH}`);
  // params = kvzalloc(kbuf.bufsz, GFP_KERNEL);
  const buf = new Uint8Array(L.bufsz);
  const dv = new DataView(buf.buffer);
  const O = BOOT_PARAMS_OFFSETS;
  const u64 = (off: number, v: bigint) => dv.setBigUint64(off, v, true);
  const u32 = (off: number, v: number | bigint) => dv.setUint32(off, Number(BigInt(v) & 0xffffffffn), true);

  // setup_header_size = 0x0202 + kernel[0x0201] - setup_hdr_offset;
  // memcpy(&params->hdr, (kernel + setup_hdr_offset), setup_header_size);
  const hsz = setupHeaderSize(input.kernel);
  if (input.kernel.length < SETUP_HDR_OFFSET + hsz) badArg(`the kernel is too short for its ${hsz}-byte setup header`);
  buf.set(input.kernel.subarray(SETUP_HDR_OFFSET, SETUP_HDR_OFFSET + hsz), SETUP_HDR_OFFSET);

  // setup_initrd: ramdisk_image/size = low 32 bits; ext_ramdisk_image/size = high 32 bits.
  if (input.initrd) {
    u32(O.ramdisk_image, input.initrd.addr & 0xffffffffn);
    u32(O.ramdisk_size, input.initrd.size & 0xffffffffn);
    u32(O.ext_ramdisk_image, input.initrd.addr >> 32n);
    u32(O.ext_ramdisk_size, input.initrd.size >> 32n);
  }

  // setup_cmdline(image, params, bootparam_load_addr, sizeof(struct boot_params), cmdline, cmdline_len)
  let prefix = "";
  if (input.crash) {
    // len = sprintf(cmdline_ptr, "elfcorehdr=0x%lx ", image->elf_load_addr);
    prefix = `elfcorehdr=0x${input.crash.elfcorehdr.toString(16)} `;
    // if (image->dm_crypt_keys_addr != 0) len += sprintf(cmdline_ptr + len, "dmcryptkeys=0x%lx ", ...);
    if (input.crash.dmCryptKeys) prefix += `dmcryptkeys=0x${input.crash.dmCryptKeys.toString(16)} `;
  }
  const pre = new TextEncoder().encode(prefix);
  const room = L.paramsCmdlineSize - L.cmdlineOffset;
  if (pre.length + input.cmdline.length > room) badArg(`the command line and its crash prefix (${pre.length + input.cmdline.length} bytes) exceed their ${room}-byte slot`);
  buf.set(pre, L.cmdlineOffset);
  // memcpy(cmdline_ptr + len, cmdline, cmdline_len); cmdline_len += len; cmdline_ptr[cmdline_len - 1] = '\0';
  buf.set(input.cmdline, L.cmdlineOffset + pre.length);
  const total = pre.length + input.cmdline.length;
  // With cmdline_len 0 and no prefix this writes the last byte of boot_params (_pad9), a zero already.
  buf[L.cmdlineOffset + total - 1] = 0;
  const cmdlinePhys = input.loadAddr + BigInt(L.cmdlineOffset);
  // params->hdr.cmd_line_ptr = cmdline_low_32; if (cmdline_ext_32) params->ext_cmd_line_ptr = cmdline_ext_32;
  u32(O.cmd_line_ptr, cmdlinePhys & 0xffffffffn);
  if (cmdlinePhys >> 32n) u32(O.ext_cmd_line_ptr, cmdlinePhys >> 32n);
  const end = buf.indexOf(0, L.cmdlineOffset);
  const cmdline = new TextDecoder().decode(buf.subarray(L.cmdlineOffset, end < 0 ? L.cmdlineOffset : end));

  // params->hdr.type_of_loader = 0x0D << 4; params->hdr.loadflags = 0;
  buf[O.type_of_loader] = KEXEC_TYPE_OF_LOADER;
  buf[O.loadflags] = 0;

  // setup_boot_parameters: params->hdr.hardware_subarch = boot_params.hdr.hardware_subarch;
  u32(O.hardware_subarch, input.hardwareSubarch ?? 0);
  // screen_info copied from the first kernel (none here: zeros); ext_mem_k = alt_mem_k = 0 first.
  // params->acpi_rsdp_addr = boot_params.acpi_rsdp_addr;
  u64(O.acpi_rsdp_addr, input.acpiRsdpAddr ?? 0n);

  // setup_e820_entries: if (nr_e820_entries > E820_MAX_ENTRIES_ZEROPAGE) nr_e820_entries = E820_MAX_ENTRIES_ZEROPAGE;
  const e820 = input.e820.slice(0, E820_MAX_ENTRIES_ZEROPAGE).map((e) => ({ ...e }));
  buf[O.e820_entries] = e820.length;
  e820.forEach((e, i) => {
    const at = O.e820_table + i * E820_ENTRY_SIZE;
    u64(at, e.addr);
    u64(at + 8, e.size);
    u32(at + 16, e.type);
  });
  // for each E820_TYPE_RAM entry: if ((start <= 0x100000) && end > 0x100000) { mem_k = (end >> 10) - (0x100000 >> 10); ...
  let extMemK = 0;
  let altMemK = 0;
  for (const e of e820) {
    if (e.type !== E820_TYPE.RAM) continue;
    const start = e.addr;
    const last = e.addr + e.size - 1n;
    if (start <= 0x100000n && last > 0x100000n) {
      const memK = (last >> 10n) - (0x100000n >> 10n);
      // params->screen_info.ext_mem_k = mem_k (u16) ... if (mem_k > 0xfc00) ext_mem_k = 0xfc00; /* 64M*/
      extMemK = memK > 0xfc00n ? 0xfc00 : Number(memK & 0xffffn);
      // params->alt_mem_k = mem_k (u32) ... if (mem_k > 0xffffffff) alt_mem_k = 0xffffffff;
      altMemK = memK > 0xffffffffn ? 0xffffffff : Number(memK);
    }
  }
  dv.setUint16(O.ext_mem_k, extMemK, true);
  u32(O.alt_mem_k, altMemK);

  // setup_kho (CONFIG_KEXEC_HANDOVER): "sd->type = SETUP_KEXEC_KHO; sd->len = sizeof(struct kho_data);" written
  // before "Only add if we have all KHO images in place": a plan has no KHO images, so the slot stays unlinked.
  if (L.khoSetupDataOffset !== null) {
    u32(L.khoSetupDataOffset + 8, SETUP_KEXEC_KHO);
    u32(L.khoSetupDataOffset + 12, KHO_DATA_SIZE);
  }

  // setup_rng_seed: sd->type = SETUP_RNG_SEED; sd->len = RNG_SEED_LENGTH; get_random_bytes(sd->data, ...);
  // sd->next = params->hdr.setup_data; params->hdr.setup_data = setup_data_phys;
  let rngSeedPhys: bigint | null = null;
  if (input.rngSeed) {
    const at = L.rngSeedOffset;
    u64(at, dv.getBigUint64(O.setup_data, true));
    u32(at + 8, SETUP_RNG_SEED);
    u32(at + 12, RNG_SEED_LENGTH);
    buf.set(input.rngSeed, at + SETUP_DATA_HEADER_SIZE);
    rngSeedPhys = input.loadAddr + BigInt(at);
    u64(O.setup_data, rngSeedPhys);
  }
  return {
    bytes: buf,
    setupHeaderSize: hsz,
    cmdline,
    cmdlinePhys,
    e820,
    e820Dropped: Math.max(0, input.e820.length - E820_MAX_ENTRIES_ZEROPAGE),
    rngSeedPhys,
    extMemK,
    altMemK,
  };
}
