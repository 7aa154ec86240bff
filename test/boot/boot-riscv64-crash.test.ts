// Boot proof of a riscv64 crash-kernel (kdump) plan: the real Debian trixie
// riscv64 kernel (6.12) is started from a `kind: "crash"` plan exactly as
// test/boot-riscv64.test.ts starts a normal one — OpenSBI fw_jump as
// firmware, segments by `-device loader`, a trampoline at FW_JUMP_ADDR that
// sets a1 = the plan's DTB, no `-kernel` — on a 1 GiB virt machine whose
// crash region (crashk_res) is 0xa0000000 + 256 MiB. The "first kernel's"
// tree is the one OpenSBI hands over. No first kernel exists: the plan's ELF
// core header points at two per-CPU crash notes that are zero pages and at a
// vmcoreinfo note the test writes into "first kernel" RAM.
//
// What the console must show (Linux 6.12: drivers/of/fdt.c, mm/mm_init.c,
// fs/proc/vmcore.c):
// - "OF: fdt: Reserving 4 KiB of memory at 0x<elfcorehdr> for elfcorehdr":
//   /chosen linux,elfcorehdr found at the plan's address and size;
// - "Kernel command line: elfcorehdr=0x<the same address> console=…": the
//   plan's command line, prefixed as setup_kdump_cmdline does;
// - memory capped to linux,usable-memory-range: the only "node   0: [mem …]"
//   line is the crash region although /memory covers 1 GiB;
// - vmcore_init read the header: one "Warning: Zero PT_NOTE entries found"
//   per zero CPU note (exactly 2), none for the valid vmcoreinfo note, and no
//   "Kdump: vmcore not initialized";
// - the initramfs unpacked and /init run.
import { existsSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { CRASH_NOTE_BYTES, vmcoreinfoNoteSize } from "../../src/plan/protocol/elfcore.js";
import { checkSegments, memoryMap, rangeContains, type Range } from "../../src/plan/core/memory.js";
import { memoryMapFromFdt } from "../../src/plan/core/memory-parse.js";
import { planRiscv } from "../../src/plan/arch/riscv.js";
import { parseFdt } from "../../src/fdt/index.js";
import { haveQemu, tinyInitramfs } from "../support/qemu.js";
import { vmcoreinfoNote } from "../support/plan-builders.js";
import { readBytes, requireReal } from "../support/real.js";
import { bootRiscv, FW_JUMP, FW_JUMP_ADDR, FW_JUMP_FDT_ADDR, firmwareDtb, riscvTrampoline, RISCV_VIRT_RAM } from "../support/riscv.js";

const MEM_MIB = 1024;
/** OpenSBI and the trampoline page, OpenSBI's FDT copy, QEMU's FDT ROM: as test/boot-riscv64.test.ts. */
const EXCLUDE: Range[] = [
  { start: RISCV_VIRT_RAM, size: FW_JUMP_ADDR - RISCV_VIRT_RAM + 0x200000n },
  { start: FW_JUMP_FDT_ADDR, size: 0x10000n },
  { start: RISCV_VIRT_RAM + (BigInt(MEM_MIB) << 20n) - 0x200000n, size: 0x100000n },
];
const CRASH: Range = { start: 0xa0000000n, size: 256n << 20n };
/** Where the "first kernel" keeps its crash notes and vmcoreinfo (plain RAM outside the crash region). */
const NOTES = 0x88000000n;
const VMCOREINFO = 0x88002000n;

const kernels = requireReal("riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel" && f.suite === "trixie");
const sid = requireReal("sid riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel" && f.suite === "sid");
const qemu = haveQemu("riscv64") && existsSync(FW_JUMP);

const hex16 = (x: bigint) => x.toString(16).padStart(16, "0");

let fwDtb: Uint8Array = new Uint8Array(0);

/** Plans the crash kernel over OpenSBI's tree, boots it, and checks what the kernel printed. */
async function bootCrash(kernelPath: string, label: string): Promise<void> {
  const cmdline = `console=ttyS0 earlycon panic=-1 kimage.plan=crash-${label}`;
  const plan = await planRiscv({
    kernel: readBytes(kernelPath),
    initrd: tinyInitramfs(),
    cmdline,
    dtb: fwDtb,
    exclude: EXCLUDE,
    crash: {
      region: CRASH,
      cpuNotes: [
        { addr: NOTES, size: CRASH_NOTE_BYTES.riscv64 },
        { addr: NOTES + 0x1000n, size: CRASH_NOTE_BYTES.riscv64 },
      ],
      vmcoreinfo: { addr: VMCOREINFO, size: vmcoreinfoNoteSize() },
    },
  });
  expect(plan.kind).toBe("crash");
  expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "elfcorehdr", "initrd", "dtb"]);
  for (const s of plan.segments) expect(rangeContains(CRASH, { start: s.mem, size: s.memsz }), s.name).toBe(true);
  const map = memoryMapFromFdt(parseFdt(fwDtb));
  expect(checkSegments(plan.segments, memoryMap([...map.regions, { ...CRASH, type: "crash" }]), { crash: true }).filter((v) => v.code === "outside-crash")).toEqual([]);
  const elf = plan.segments.find((s) => s.name === "elfcorehdr");
  if (!elf) throw new Error("no elfcorehdr segment");
  expect(plan.cmdline).toBe(`elfcorehdr=0x${elf.mem.toString(16)} ${cmdline}`);

  const a1 = plan.entry.registers.a1 as bigint;
  const boot = await bootRiscv({
    memMiB: MEM_MIB,
    blobs: [
      ...plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })),
      { name: "vmcoreinfo", bytes: vmcoreinfoNote("OSRELEASE=kimage-crash-test\nPAGESIZE=4096\n"), addr: VMCOREINFO },
      { name: "trampoline", bytes: riscvTrampoline(a1, plan.entry.pc), addr: FW_JUMP_ADDR },
    ],
    timeoutMs: 110_000,
    until: /Kernel panic|Attempted to kill init/,
  });
  const log = boot.console;
  // KIMAGE_BOOT_LOG=dir keeps the console log for inspection.
  if (process.env.KIMAGE_BOOT_LOG) writeFileSync(`${process.env.KIMAGE_BOOT_LOG}/riscv64-crash-${label}.log`, log);
  console.log(`riscv64 crash boot (${label}): ${boot.ms} ms; ${plan.segments.map((s) => `${s.name}@0x${s.mem.toString(16)}`).join(" ")}`);
  expect(boot.timedOut, log.slice(-3000)).toBe(false);
  expect(log, "OpenSBI handed over to the trampoline").toMatch(/Domain0 Next Address\s*: 0x0*80200000/);
  expect(log).toContain("Machine model: riscv-virtio,qemu");
  // the plan's command line, which setup_kdump_cmdline prefixed with the header's address
  expect(/Kernel command line: (.*)\r?\n/.exec(log)?.[1], "command line").toBe(plan.cmdline);
  // drivers/of/fdt.c fdt_reserve_elfcorehdr: "Reserving %llu KiB of memory at 0x%llx for elfcorehdr"
  expect(log, "elfcorehdr found at the plan's address").toContain(`OF: fdt: Reserving ${BigInt(elf.bytes.length) >> 10n} KiB of memory at 0x${elf.mem.toString(16)} for elfcorehdr`);
  expect(log).not.toContain("elfcorehdr is overlapped");
  // linux,usable-memory-range caps memblock to the crash region although /memory is 1 GiB.
  const nodes = [...log.matchAll(/node {3}0: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]/g)].map((m) => `${m[1]}-${m[2]}`);
  expect(nodes, "usable memory = the crash region").toEqual([`0x${hex16(CRASH.start)}-0x${hex16(CRASH.start + CRASH.size - 1n)}`]);
  expect(log, "256 MiB of memory in all").toMatch(/Memory: \d+K\/262144K available/);
  // fs/proc/vmcore.c update_note_header_size_elf64: one warning per all-zero PT_NOTE: the two CPU notes.
  expect(log.match(/Warning: Zero PT_NOTE entries found/g)?.length ?? 0, "vmcore read both CPU PT_NOTEs of our header").toBe(2);
  expect(log, "vmcore_init accepted the header").not.toMatch(/vmcore not initialized/);
  expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
  expect(log).not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
  expect(log).toMatch(/Run \/init as init process/);
}

describe.skipIf(!qemu || kernels.length + sid.length === 0)("riscv64 crash-kernel plan boots a real Debian kernel under OpenSBI in QEMU", () => {
  beforeAll(async () => {
    fwDtb = (await firmwareDtb(MEM_MIB)).dtb;
  }, 40_000);

  it.skipIf(kernels.length === 0)("trixie (6.12): finds the elfcorehdr, keeps to linux,usable-memory-range and reads the core header", async () => {
    await bootCrash(kernels[0]?.abs ?? "", "trixie");
  }, 120_000);

  it.skipIf(sid.length === 0)("sid (7.x): the same", async () => {
    await bootCrash(sid[0]?.abs ?? "", "sid");
  }, 120_000);
});
