// Boot proof: a real Debian riscv64 kernel boots in QEMU from a kimage plan,
// without QEMU's `-kernel`. OpenSBI (fw_jump) runs first as on hardware and
// jumps in S-mode to FW_JUMP_ADDR, where a 32-byte trampoline loads
// a1 = the plan's DTB and jumps to the plan's entry (a0 = the hart id
// OpenSBI passes, the plan's a0). The "first kernel's" device tree is the one
// OpenSBI really hands over (read back from guest memory), so it carries
// OpenSBI's /reserved-memory fixup for its own PMP-protected region.
//
// What the plan is told to avoid (`exclude`), and why:
// - [RAM, FW_JUMP_ADDR + 2 MiB): OpenSBI's image, heap and scratch space
//   (its PMP region is 0x80000000..0x8007ffff; the rest of the first 2 MiB
//   is its runtime) and the trampoline page at FW_JUMP_ADDR;
// - FW_JUMP_FDT_ADDR + 64 KiB: OpenSBI copies its FDT there at boot, after
//   QEMU has placed our blobs — a segment there would be overwritten;
// - 0xbfe00000 + 1 MiB: QEMU's own FDT ROM (without -kernel it sits 2 MiB
//   below the end of the 1 GiB RAM); QEMU refuses overlapping blobs.
import { describe, expect, it } from "vitest";
import { planRiscv } from "../../src/plan/arch/riscv.js";
import type { Range } from "../../src/plan/core/memory.js";
import type { Plan } from "../../src/plan/table.js";
import { dumpVirtDtb, haveQemu, tinyInitramfs } from "../support/qemu.js";
import { bootRiscv, FW_JUMP, FW_JUMP_ADDR, FW_JUMP_FDT_ADDR, firmwareDtb, riscvTrampoline, RISCV_VIRT_RAM } from "../support/riscv.js";
import { readBytes, requireReal } from "../support/real.js";
import { existsSync, writeFileSync } from "node:fs";

const MEM_MIB = 1024;
const EXCLUDE: Range[] = [
  { start: RISCV_VIRT_RAM, size: FW_JUMP_ADDR - RISCV_VIRT_RAM + 0x200000n },
  { start: FW_JUMP_FDT_ADDR, size: 0x10000n },
  { start: RISCV_VIRT_RAM + (BigInt(MEM_MIB) << 20n) - 0x200000n, size: 0x100000n },
];
const BOOT_TIMEOUT_MS = 120_000;

const kernels = requireReal("riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel" && f.suite === "trixie");
const sid = requireReal("sid riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel" && f.suite === "sid");
const qemu = haveQemu("riscv64") && existsSync(FW_JUMP);

let fw: Promise<{ dtb: Uint8Array; a0: bigint; a1: bigint }> | undefined;
/** The firmware's tree, read once per file. */
function fwDtb() {
  fw ??= firmwareDtb(MEM_MIB);
  return fw;
}

async function planAndBoot(kernelPath: string, cmdline: string, seed?: number, firstDtb?: Uint8Array) {
  const dtb = firstDtb ?? (await fwDtb()).dtb;
  const plan = await planRiscv({
    kernel: readBytes(kernelPath),
    initrd: tinyInitramfs(),
    cmdline,
    dtb,
    exclude: EXCLUDE,
    ...(seed !== undefined ? { seed } : {}),
  });
  const a1 = plan.entry.registers.a1 as bigint;
  const boot = await bootRiscv({
    memMiB: MEM_MIB,
    blobs: [...plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })), { name: "trampoline", bytes: riscvTrampoline(a1, plan.entry.pc), addr: FW_JUMP_ADDR }],
    timeoutMs: BOOT_TIMEOUT_MS,
    until: /Kernel panic|Attempted to kill init/,
  });
  // KIMAGE_BOOT_LOG=dir keeps each console log for inspection.
  if (process.env.KIMAGE_BOOT_LOG) writeFileSync(`${process.env.KIMAGE_BOOT_LOG}/riscv64-${seed ?? "deterministic"}.log`, boot.console);
  return { plan, boot };
}

function expectBooted(plan: Plan, log: string, cmdline: string): void {
  expect(log, "OpenSBI handed over to the trampoline").toMatch(/Domain0 Next Address\s*: 0x0*80200000/);
  expect(log, "machine model").toContain("Machine model: riscv-virtio,qemu");
  expect(log, "the kernel keeps off OpenSBI's region").toMatch(/reserved mem: 0x0*80000000\.\.0x0*8007ffff .*mmode_resv0/);
  const line = /Kernel command line: (.*)\r?\n/.exec(log);
  expect(line?.[1], "command line").toBe(cmdline);
  expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
  expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
  expect(log, "ran /init from the initramfs").toMatch(/Run \/init as init process/);
  expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb"]);
}

describe.skipIf(!qemu || kernels.length === 0)("riscv64 plan boots a real Debian kernel under OpenSBI in QEMU (no -kernel)", () => {
  const kernel = kernels[0]?.abs ?? "";

  it("the firmware's tree is what OpenSBI hands over", async () => {
    const { dtb, a0, a1 } = await fwDtb();
    expect(a0).toBe(0n);
    expect(a1).toBe(FW_JUMP_FDT_ADDR);
    expect(new TextDecoder("latin1").decode(dtb)).toContain("mmode_resv0@80000000");
  });

  it("with the kernel's deterministic placement", async () => {
    const cmdline = "console=ttyS0 earlycon panic=-1 kimage.plan=deterministic";
    const { plan, boot } = await planAndBoot(kernel, cmdline);
    console.log(`riscv64 deterministic boot: ${boot.ms} ms; ${plan.segments.map((s) => `${s.name}@0x${s.mem.toString(16)}`).join(" ")}`);
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectBooted(plan, boot.console, cmdline);
    // The kernel's rules: text_offset (2 MiB) aligned, bottom-up: the first 2 MiB-aligned base whose image_size
    // fits between the exclusions (0x80400000 + image_size would cover OpenSBI's FDT copy at 0x82200000).
    // (Whether it does depends on the build's image_size, read from the plan's kernel segment.)
    const memsz = plan.segments[0]?.memsz ?? 0n;
    const base = 0x80400000n + memsz > 0x82200000n ? 0x82400000n : 0x80400000n;
    expect(plan.segments.map((s) => s.mem)).toEqual([base, 0xbffff000n, 0xbfffd000n]);
    expect(plan.entry).toEqual({ pc: base, registers: { a0: 0n, a1: 0xbfffd000n } });
  });

  it("with two different seeds: different addresses, both boot", async () => {
    const runs: bigint[][] = [];
    for (const seed of [1, 2]) {
      const cmdline = `console=ttyS0 earlycon panic=-1 kimage.seed=${seed}`;
      const { plan, boot } = await planAndBoot(kernel, cmdline, seed);
      console.log(`riscv64 seed ${seed} boot: ${boot.ms} ms; ${plan.segments.map((s) => `${s.name}@0x${s.mem.toString(16)}`).join(" ")}`);
      expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
      expectBooted(plan, boot.console, cmdline);
      runs.push(plan.segments.map((s) => s.mem));
    }
    expect(runs[0]).not.toEqual(runs[1]);
  }, 2 * BOOT_TIMEOUT_MS + 30_000);

  it("QEMU's dumpdtb is not the tree the firmware hands over: without OpenSBI's /reserved-memory the kernel faults", async () => {
    // `exclude` only keeps the plan's segments off OpenSBI; the second kernel learns about the region from its
    // DTB alone. Given QEMU's raw tree it hands OpenSBI's PMP-protected pages to the page allocator and the
    // first store there traps (observed: "Oops - store (or AMO) access fault" in mm_core_init).
    const cmdline = "console=ttyS0 earlycon panic=-1 kimage.dtb=qemu-dumpdtb";
    const { boot } = await planAndBoot(kernel, cmdline, undefined, dumpVirtDtb("riscv64", MEM_MIB));
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expect(boot.console).toMatch(/No reserved-memory node in the DT/);
    expect(boot.console).toMatch(/access fault/);
    expect(boot.console).not.toMatch(/Run \/init as init process/);
  });
});

describe.skipIf(!qemu || sid.length === 0)("riscv64 plan boots the sid (7.x) kernel too", () => {
  it("boots", async () => {
    const cmdline = "console=ttyS0 earlycon panic=-1 kimage.suite=sid";
    const { plan, boot } = await planAndBoot(sid[0]?.abs ?? "", cmdline, 3);
    console.log(`riscv64 sid boot: ${boot.ms} ms; ${plan.segments.map((s) => `${s.name}@0x${s.mem.toString(16)}`).join(" ")}`);
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectBooted(plan, boot.console, cmdline);
  });
});
