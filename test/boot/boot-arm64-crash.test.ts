// Boot proof of a crash-kernel (kdump) plan: a real Debian trixie arm64
// kernel is started from a `kind: "crash"` plan exactly as
// test/boot-arm64.test.ts starts a normal one (segments by `-device loader`,
// a trampoline for the entry registers, no `-kernel`), on a 1 GiB virt
// machine whose crash region is 0x60000000 + 256 MiB. No first kernel
// exists: the plan's ELF core header points at two per-CPU crash notes that
// are zero pages and at a vmcoreinfo note the test writes into "first
// kernel" RAM.
//
// What the console must show (Linux 6.12, drivers/of/fdt.c, fs/proc/vmcore.c):
// - "OF: fdt: Reserving 4 KiB of memory at 0x<elfcorehdr> for elfcorehdr":
//   the kernel found /chosen linux,elfcorehdr at the plan's address and size;
// - memory limited to linux,usable-memory-range: "node   0: [mem
//   0x0000000060000000-0x000000006fffffff]" although /memory covers 1 GiB;
// - vmcore_init read the header: one "Warning: Zero PT_NOTE entries found" per
//   zero CPU note (exactly 2), none for the vmcoreinfo note, which is valid,
//   and no "Kdump: vmcore not initialized";
// - the plan's command line, and the initramfs unpacked and /init run.
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { planArm64 } from "../../src/plan/arch/arm64.js";
import { CRASH_NOTE_BYTES, vmcoreinfoNoteSize } from "../../src/plan/protocol/elfcore.js";
import { checkSegments, memoryMap, rangeContains, type Range } from "../../src/plan/core/memory.js";
import { arm64Trampoline, bootQemu, dumpVirtDtb, haveQemu, tinyInitramfs } from "../support/qemu.js";
import { vmcoreinfoNote } from "../support/plan-builders.js";
import { readBytes, requireReal } from "../support/real.js";

const RAM_START = 0x40000000n;
const MEM_MIB = 1024;
/** QEMU's own DTB (first MiB) and the trampoline (second MiB): first-kernel RAM, outside the crash region. */
const RESERVED: Range = { start: RAM_START, size: 0x200000n };
const TRAMPOLINE = RAM_START + 0x100000n;
const CRASH: Range = { start: 0x60000000n, size: 256n << 20n };
/** Where the "first kernel" keeps its crash notes and vmcoreinfo (plain RAM outside the crash region). */
const NOTES = 0x48000000n;
const VMCOREINFO = 0x48002000n;

const k4 = requireReal("arm64 4K kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k") && !f.signedPackage);
const qemu = haveQemu("aarch64");

describe.skipIf(!qemu || k4.length === 0)("arm64 crash-kernel plan boots a real Debian kernel in QEMU", () => {
  it("finds the elfcorehdr, keeps to linux,usable-memory-range and reads the core header", async () => {
    const cmdline = "console=ttyAMA0 earlycon panic=-1 kimage.plan=crash";
    const map = memoryMap([{ start: RAM_START, size: BigInt(MEM_MIB) << 20n, type: "ram" }]);
    const plan = await planArm64({
      kernel: readBytes(k4[0]?.abs ?? ""),
      initrd: tinyInitramfs(),
      cmdline,
      dtb: dumpVirtDtb("aarch64", MEM_MIB),
      memory: map,
      exclude: [RESERVED],
      crash: {
        region: CRASH,
        cpuNotes: [
          { addr: NOTES, size: CRASH_NOTE_BYTES.arm64 },
          { addr: NOTES + 0x1000n, size: CRASH_NOTE_BYTES.arm64 },
        ],
        vmcoreinfo: { addr: VMCOREINFO, size: vmcoreinfoNoteSize() },
      },
    });
    expect(plan.kind).toBe("crash");
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "elfcorehdr", "initrd", "dtb"]);
    for (const s of plan.segments) expect(rangeContains(CRASH, { start: s.mem, size: s.memsz }), s.name).toBe(true);
    expect(checkSegments(plan.segments, memoryMap([...map.regions, { ...CRASH, type: "crash" }]), { crash: true }).filter((v) => v.code === "outside-crash")).toEqual([]);
    const elf = plan.segments.find((s) => s.name === "elfcorehdr");
    expect(elf).toBeDefined();

    const boot = await bootQemu({
      arch: "aarch64",
      memMiB: MEM_MIB,
      blobs: [
        ...plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })),
        { name: "vmcoreinfo", bytes: vmcoreinfoNote("OSRELEASE=kimage-crash-test\nPAGESIZE=4096\n"), addr: VMCOREINFO },
        { name: "trampoline", bytes: arm64Trampoline(plan.entry.registers.x0 as bigint, plan.entry.pc), addr: TRAMPOLINE },
      ],
      pc: TRAMPOLINE,
      timeoutMs: 110_000,
      until: /Kernel panic|Attempted to kill init/,
    });
    const log = boot.console;
    if (process.env.KIMAGE_BOOT_LOG) writeFileSync(process.env.KIMAGE_BOOT_LOG, log);
    expect(boot.timedOut, log.slice(-3000)).toBe(false);
    expect(log).toContain("Machine model: linux,dummy-virt");
    expect(/Kernel command line: (.*)\r?\n/.exec(log)?.[1], "command line").toBe(cmdline);
    // drivers/of/fdt.c fdt_reserve_elfcorehdr: "Reserving %llu KiB of memory at 0x%llx for elfcorehdr"
    const size = BigInt(elf?.bytes.length ?? 0);
    expect(log, "elfcorehdr found at the plan's address").toContain(`OF: fdt: Reserving ${size >> 10n} KiB of memory at 0x${elf?.mem.toString(16)} for elfcorehdr`);
    expect(log).not.toContain("elfcorehdr is overlapped");
    // linux,usable-memory-range caps memblock to the crash region although /memory is 1 GiB.
    expect(log, "usable memory = the crash region").toMatch(/node {3}0: \[mem 0x0000000060000000-0x000000006fffffff\]/);
    expect(log).not.toMatch(/node {3}0: \[mem 0x0000000040000000/);
    // fs/proc/vmcore.c update_note_header_size_elf64: one warning per PT_NOTE whose notes are all zero:
    // the two CPU notes (zero pages), not the vmcoreinfo note the test wrote.
    expect(log.match(/Warning: Zero PT_NOTE entries found/g)?.length ?? 0, "vmcore read both CPU PT_NOTEs of our header").toBe(2);
    // With the vmcoreinfo note valid, vmcore_init accepts the header (its RAM PT_LOADs included); with every note
    // zero it fails (a zero-size vmalloc WARNING, then "Kdump: vmcore not initialized"), which is also a sign it read it.
    expect(log, "vmcore_init accepted the header").not.toMatch(/vmcore not initialized/);
    expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
    expect(log).not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
    expect(log).toMatch(/Run \/init as init process/);
  }, 120_000);
});
