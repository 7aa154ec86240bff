// Boot proof of kimage's purgatory, the quick path: a plan made with
// `withPurgatory` is loaded with QEMU's generic loader (every segment, the
// purgatory included, at the plan's address; no -kernel) and the CPU starts
// at the plan's `entry.pc`, the purgatory's entry, instead of a test
// trampoline. The purgatory checks the SHA-256 of every region, sets the
// kernel's entry registers and jumps: the kernel must print the plan's
// command line and run /init from the plan's initrd. With one byte of one
// segment flipped after the digest was computed, the purgatory must print
// its mismatch line on the plan's console and the kernel must never start.
//
// How the CPU reaches `entry.pc` on each arch (what kexec's relocate code
// does on a real machine):
// - x86_64: the test firmware (test/support/x86-firmware.ts) enters 64-bit
//   mode with an identity map of 4 GiB and jumps to entry.pc; the register
//   values it passes are ignored (bootParams 0);
// - arm64: `-device loader,addr=entry.pc,cpu-num=0` (EL1, MMU off);
// - riscv64: OpenSBI (fw_jump) jumps to FW_JUMP_ADDR in S-mode with a0 =
//   hart id, where a trampoline jumps to entry.pc (a1 it sets is ignored).
import { describe, expect, it } from "vitest";
import { planArm64 } from "../../src/plan/arch/arm64.js";
import { planRiscv } from "../../src/plan/arch/riscv.js";
import { planX86_64 } from "../../src/plan/arch/x86.js";
import { memoryMap, type Range, type Segment } from "../../src/plan/core/memory.js";
import type { AnyPlan } from "../../src/plan/core/types.js";
import { PURGATORY_MISMATCH_LINE, readPurgatoryParameters } from "../../src/plan/protocol/purgatory.js";
import { withPurgatory, type PurgatoryPlan } from "../../src/plan/purgatory.js";
import { bootQemu, dumpVirtDtb, haveQemu, tinyInitramfs, type LoaderBlob } from "../support/qemu.js";
import { readBytes, requireReal } from "../support/real.js";
import { bootRiscv, FW_JUMP, FW_JUMP_ADDR, FW_JUMP_FDT_ADDR, firmwareDtb, riscvTrampoline, RISCV_VIRT_RAM } from "../support/riscv.js";
import { QEMU_PC_EXCLUDE, bootX86, buildX86Firmware, haveBinutils, qemuPcMemory } from "../support/x86-firmware.js";
import { existsSync } from "node:fs";

const BOOTED = /Run \/init as init process/;
const STOP = /Kernel panic|Attempted to kill init|kimage purgatory: digest mismatch/;

/** The blobs of a plan, with one byte of segment `flip` inverted (after the digest was written). */
function blobs(plan: AnyPlan, flip?: string): LoaderBlob[] {
  return plan.segments.map((s: Segment) => {
    let bytes = s.bytes;
    if (s.name === flip) {
      bytes = s.bytes.slice();
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    }
    return { name: s.name, bytes, addr: s.mem };
  });
}

function expectPurgatoryPlan(plan: PurgatoryPlan): void {
  const last = plan.segments[plan.segments.length - 1]!;
  expect(last.name).toBe("purgatory");
  expect(plan.entry.pc).toBe(last.mem + plan.purgatory.entryOffset);
  const p = readPurgatoryParameters(last.bytes);
  expect(p.entry).toBe(plan.purgatory.kernelEntry.pc);
  expect(p.regions.map((r) => r.start)).toEqual(plan.segments.slice(0, -1).map((s) => s.mem));
  expect(Buffer.from(p.sha256).toString("hex")).toBe(plan.purgatory.digest.hex);
}

function expectBooted(log: string, cmdline: string): void {
  expect(log).not.toContain(PURGATORY_MISMATCH_LINE);
  expect(/Kernel command line: (.*)\r?\n/.exec(log)?.[1], "command line").toBe(cmdline);
  expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
  expect(log, "ran /init from the plan's initrd").toMatch(BOOTED);
}

function expectRefused(log: string): void {
  expect(log).toContain(PURGATORY_MISMATCH_LINE);
  expect(log, "the kernel never starts").not.toMatch(/Linux version|Booting Linux|Kernel command line/);
}

// ---- x86_64 ----
const X86_MEM_MIB = 512;
const X86_MEMORY = qemuPcMemory(X86_MEM_MIB);
const X86_EXCLUDE = QEMU_PC_EXCLUDE;
const amd64 = requireReal("trixie amd64 kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "trixie" && !f.signedPackage);

describe.skipIf(!haveQemu("x86_64") || !haveBinutils() || amd64.length === 0)("x86_64: kimage's purgatory checks the digest and enters the kernel", () => {
  async function run(flip?: string) {
    const cmdline = `console=ttyS0 panic=-1 kimage.purgatory=${flip ?? "ok"}`;
    const base = await planX86_64({ kernel: readBytes(amd64[0]!.abs), initrd: tinyInitramfs(), cmdline, memory: X86_MEMORY, exclude: X86_EXCLUDE });
    const plan = await withPurgatory(base, { memory: X86_MEMORY, exclude: X86_EXCLUDE });
    expectPurgatoryPlan(plan);
    expect(plan.purgatory.console).toEqual({ kind: "x86-pio", addr: 0x3f8n });
    const firmware = buildX86Firmware({ mode: "entry64", bootParams: 0n, entry: plan.entry.pc });
    const boot = await bootX86({ firmware, memMiB: X86_MEM_MIB, blobs: blobs(plan, flip), timeoutMs: 110_000, until: STOP });
    return { plan, boot, cmdline };
  }
  it("boots through the purgatory", async () => {
    const { boot, cmdline } = await run();
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectBooted(boot.console, cmdline);
  }, 130_000);
  it("refuses a flipped byte in the kernel segment", async () => {
    const { boot } = await run("kernel");
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectRefused(boot.console);
  }, 130_000);
});

// ---- arm64 ----
const ARM_RAM = 0x40000000n;
const ARM_MEM_MIB = 1024;
const arm64 = requireReal("arm64 4K kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k") && !f.signedPackage);

describe.skipIf(!haveQemu("aarch64") || arm64.length === 0)("arm64: kimage's purgatory checks the digest and enters the kernel", () => {
  async function run(flip?: string) {
    const cmdline = `console=ttyAMA0 panic=-1 kimage.purgatory=${flip ?? "ok"}`;
    const dtb = dumpVirtDtb("aarch64", ARM_MEM_MIB);
    const memory = memoryMap([{ start: ARM_RAM, size: BigInt(ARM_MEM_MIB) << 20n, type: "ram" }]);
    // QEMU's own DTB sits in the first MiB of RAM without -kernel.
    const exclude: Range[] = [{ start: ARM_RAM, size: 0x200000n }];
    const base = await planArm64({ kernel: readBytes(arm64[0]!.abs), initrd: tinyInitramfs(), cmdline, dtb, memory, exclude });
    const plan = await withPurgatory(base, { memory, dtb, exclude });
    expectPurgatoryPlan(plan);
    // The DTB's stdout-path: /pl011@9000000.
    expect(plan.purgatory.console).toEqual({ kind: "pl011", addr: 0x9000000n });
    const boot = await bootQemu({ arch: "aarch64", memMiB: ARM_MEM_MIB, blobs: blobs(plan, flip), pc: plan.entry.pc, timeoutMs: 90_000, until: STOP });
    return { plan, boot, cmdline };
  }
  it("boots through the purgatory", async () => {
    const { boot, cmdline } = await run();
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectBooted(boot.console, cmdline);
  }, 110_000);
  it("refuses a flipped byte in the initrd segment", async () => {
    const { boot } = await run("initrd");
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectRefused(boot.console);
  }, 110_000);
});

// ---- riscv64 ----
const RV_MEM_MIB = 1024;
const RV_EXCLUDE: Range[] = [
  { start: RISCV_VIRT_RAM, size: FW_JUMP_ADDR - RISCV_VIRT_RAM + 0x200000n },
  { start: FW_JUMP_FDT_ADDR, size: 0x10000n },
  { start: RISCV_VIRT_RAM + (BigInt(RV_MEM_MIB) << 20n) - 0x200000n, size: 0x100000n },
];
const riscv = requireReal("riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel" && f.suite === "trixie");

describe.skipIf(!haveQemu("riscv64") || !existsSync(FW_JUMP) || riscv.length === 0)("riscv64: kimage's purgatory checks the digest and enters the kernel", () => {
  let fw: ReturnType<typeof firmwareDtb> | undefined;
  async function run(flip?: string) {
    const cmdline = `console=ttyS0 earlycon panic=-1 kimage.purgatory=${flip ?? "ok"}`;
    fw ??= firmwareDtb(RV_MEM_MIB);
    const { dtb } = await fw;
    const base = await planRiscv({ kernel: readBytes(riscv[0]!.abs), initrd: tinyInitramfs(), cmdline, dtb, exclude: RV_EXCLUDE });
    const plan = await withPurgatory(base, { dtb, exclude: RV_EXCLUDE });
    expectPurgatoryPlan(plan);
    // OpenSBI's tree: stdout-path = "/soc/serial@10000000".
    expect(plan.purgatory.console).toEqual({ kind: "ns16550", addr: 0x10000000n, shift: 0 });
    const boot = await bootRiscv({
      memMiB: RV_MEM_MIB,
      blobs: [...blobs(plan, flip), { name: "to-purgatory", bytes: riscvTrampoline(0n, plan.entry.pc), addr: FW_JUMP_ADDR }],
      timeoutMs: 120_000,
      until: STOP,
    });
    return { plan, boot, cmdline };
  }
  it("boots through the purgatory", async () => {
    const { boot, cmdline } = await run();
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectBooted(boot.console, cmdline);
  }, 150_000);
  it("refuses a flipped byte in the dtb segment", async () => {
    const { boot } = await run("dtb");
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectRefused(boot.console);
  }, 150_000);
});
