/**
 * A tiny x86 firmware for the x86_64 boot proof: it replaces QEMU's BIOS
 * (`-bios fw.bin`) and QEMU's Linux loader (no `-kernel`, `-initrd`,
 * `-append`), so every byte the kernel sees comes from the plan's segments
 * (placed with `-device loader,…,force-raw=on`) and the CPU state at entry is
 * exactly what the plan's entry states.
 *
 * The image is 64 KiB, mapped by QEMU at the top of the 4 GiB space
 * (0xffff0000; its alias at 0xf0000 is never used). It is assembled at test
 * time from the source below with binutils (`as --32`, `ld -m elf_i386
 * -Ttext 0xffff0000`, `objcopy -O binary`):
 *
 * 1. the reset vector (0xfffffff0, real mode, CS base 0xffff0000) jumps to
 *    the start of the image;
 * 2. `lgdtl` (32-bit base) loads a GDT: 0x08 flat 32-bit code, 0x10
 *    __BOOT_CS (flat 32-bit code, execute/read; for the 64-bit entry a
 *    64-bit code segment as the kexec purgatory's), 0x18 __BOOT_DS (flat
 *    data, read/write);
 * 3. CR0.PE on, far jump to 32-bit code; DS = ES = SS = FS = GS = 0x18;
 * 4. **32-bit entry** (boot.rst "32-bit Boot Protocol"): `esi` = boot_params,
 *    `ebp = edi = ebx = 0`, interrupts off (never enabled), far jump to
 *    0x10:eip;
 *    **64-bit entry** (boot.rst "64-bit Boot Protocol"): identity-map the
 *    first 4 GiB with 2 MiB pages (page tables at 0x1000–0x6fff, a range the
 *    plan excludes), PAE, EFER.LME, CR0.PG, far jump to 0x10 (64-bit), load
 *    the data segments, `rsi` = boot_params, `rbx = rbp = rdi = 0`, jump to
 *    rip.
 *
 * The firmware writes nothing else: no BIOS data area, no ACPI or MP tables,
 * no e820 (the kernel gets the plan's), and never touches the serial port.
 */
import { memoryMap, type MemoryMap, type Range } from "../../src/plan/core/memory.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loaderArgs, runQemu } from "./qemu.js";

/** Where the 64 KiB firmware image sits (QEMU maps `-bios` so that it ends at 4 GiB). */
export const FW_BASE = 0xffff0000n;
/** The firmware's page tables (64-bit entry only): the plan must exclude them. */
export const FW_PAGE_TABLES = { start: 0x1000n, size: 0x6000n };

/**
 * The memory map of QEMU's pc machine with `-m MIB` as the tiny firmware
 * leaves it: low RAM below the EBDA, the BIOS area reserved, RAM from 1 MiB
 * up, the firmware's ROM reserved at the top of 4 GiB.
 */
export function qemuPcMemory(mib: number): MemoryMap {
  const MiB = 0x100000n;
  return memoryMap([
    { start: 0n, size: 0x9fc00n, type: "ram" },
    { start: 0x9fc00n, size: 0x400n, type: "reserved" },
    { start: 0xf0000n, size: 0x10000n, type: "reserved" },
    { start: MiB, size: BigInt(mib) * MiB - MiB, type: "ram" },
    { start: FW_BASE, size: 0x10000n, type: "reserved" },
  ]);
}

/** The firmware's page tables (0x1000–0x6fff) and the real-mode IVT/BDA: no segment there. */
export const QEMU_PC_EXCLUDE: Range[] = [{ start: 0n, size: 0x10000n }];

/** How the firmware enters the kernel. */
export interface X86FirmwareOptions {
  mode: "entry32" | "entry64";
  /** esi / rsi: the plan's boot_params address. */
  bootParams: bigint;
  /** eip (32-bit: the kernel's load address) or rip (64-bit: kernel + 0x200). */
  entry: bigint;
}

/** The GNU as source of the firmware (AT&T syntax). */
export function x86FirmwareSource(o: X86FirmwareOptions): string {
  const h = (v: bigint) => `0x${v.toString(16)}`;
  if (o.mode === "entry32" && (o.bootParams >= 1n << 32n || o.entry >= 1n << 32n)) throw new Error("a 32-bit entry needs addresses below 4 GiB");
  const enter32 = `
    # boot.rst: "%esi must hold the base address of the struct boot_params;
    # %ebp, %edi and %ebx must be zero." CS must be __BOOT_CS (0x10).
    movl $${h(o.bootParams)}, %esi
    xorl %ebp, %ebp
    xorl %edi, %edi
    xorl %ebx, %ebx
    ljmpl $0x10, $${h(o.entry)}
`;
  const enter64 = `
    # Identity-map 0..4 GiB with 2 MiB pages: PML4 0x1000, PDPT 0x2000, PDs 0x3000-0x6fff.
    movl $0x1000, %edi
    xorl %eax, %eax
    movl $(0x6000 / 4), %ecx
    rep stosl
    movl $0x2003, 0x1000
    movl $0x3003, 0x2000
    movl $0x4003, 0x2008
    movl $0x5003, 0x2010
    movl $0x6003, 0x2018
    movl $0x3000, %edi
    movl $0x83, %eax              # present, writable, 2 MiB page
    movl $2048, %ecx
1:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b
    movl %cr4, %eax
    orl $0x20, %eax               # CR4.PAE
    movl %eax, %cr4
    movl $0x1000, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx        # EFER
    rdmsr
    orl $0x100, %eax              # EFER.LME
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax         # CR0.PG
    movl %eax, %cr0
    ljmpl $0x10, $lm64
    .code64
lm64:
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    # boot.rst: "%rsi must hold the base address of the struct boot_params";
    # kexec: "regs64.rbx = 0; /* Bootstrap Processor */".
    movabsq $${h(o.bootParams)}, %rsi
    xorl %ebx, %ebx
    xorl %ebp, %ebp
    xorl %edi, %edi
    movabsq $${h(o.entry)}, %rax
    jmpq *%rax
`;
  // 0x10: 32-bit flat code (0x00cf9a000000ffff) or 64-bit code (0x00af9a000000ffff, as entry64.S's).
  const cs10 = o.mode === "entry32" ? ".quad 0x00cf9a000000ffff" : ".quad 0x00af9a000000ffff";
  return `
    .code16
    .text
    .globl _start
_start:
    cli
    cld
    lgdtl %cs:(gdt_desc - _start)
    movl %cr0, %eax
    orl $1, %eax                  # CR0.PE
    movl %eax, %cr0
    ljmpl $0x08, $pm32
    .code32
pm32:
    movl $0x18, %eax              # __BOOT_DS
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
${o.mode === "entry32" ? enter32 : enter64}
    .balign 16
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff      # 0x08: flat 32-bit code
    ${cs10}      # 0x10: __BOOT_CS
    .quad 0x00cf92000000ffff      # 0x18: __BOOT_DS, flat data
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
    .code16
    .org 0xfff0                   # the reset vector, 0xfffffff0
    jmp _start
    .org 0x10000
`;
}

/** True when binutils can assemble the firmware. */
export function haveBinutils(): boolean {
  return ["as", "ld", "objcopy"].every((t) => spawnSync(t, ["--version"], { stdio: "ignore" }).status === 0);
}

/** Assembles the firmware: a 65536-byte flat image. */
export function buildX86Firmware(o: X86FirmwareOptions): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "kimage-fw-"));
  const src = join(dir, "fw.S");
  writeFileSync(src, x86FirmwareSource(o));
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  };
  try {
    run("as", ["--32", "-o", join(dir, "fw.o"), src]);
    run("ld", ["-m", "elf_i386", "-Ttext", `0x${FW_BASE.toString(16)}`, "-e", "_start", "-o", join(dir, "fw.elf"), join(dir, "fw.o")]);
    run("objcopy", ["-O", "binary", "-j", ".text", join(dir, "fw.elf"), join(dir, "fw.bin")]);
    const bin = new Uint8Array(readFileSync(join(dir, "fw.bin")));
    if (bin.length !== 0x10000) throw new Error(`the firmware is ${bin.length} bytes, not 65536`);
    return bin;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One blob for `-device loader`. */
export interface X86Blob {
  name: string;
  bytes: Uint8Array;
  addr: bigint;
}

/** Options of {@link bootX86}. */
export interface X86BootOptions {
  firmware: Uint8Array;
  blobs: X86Blob[];
  memMiB: number;
  timeoutMs: number;
  /** Stop once the console matches. */
  until?: RegExp;
}

/** What a boot printed. */
export interface X86BootResult {
  console: string;
  timedOut: boolean;
  ms: number;
  args: string[];
}

/**
 * Runs `qemu-system-x86_64 -M pc -m N -nographic -no-reboot -bios fw.bin`
 * with every blob placed by `-device loader,file=…,addr=…,force-raw=on`;
 * never `-kernel`, `-initrd` or `-append`. TCG (no `-accel kvm`).
 */
export function bootX86(o: X86BootOptions): Promise<X86BootResult> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-boot-x86-"));
  const fw = join(dir, "fw.bin");
  writeFileSync(fw, o.firmware);
  const args = ["-M", "pc", "-m", String(o.memMiB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", "-vga", "none", "-net", "none", "-bios", fw];
  args.push(...loaderArgs(dir, o.blobs));
  return runQemu("qemu-system-x86_64", args, { ...o, onClose: () => rmSync(dir, { recursive: true, force: true }) });
}
