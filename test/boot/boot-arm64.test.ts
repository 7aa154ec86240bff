// Boot proof: a real Debian arm64 kernel (4K and 16K pages) boots in QEMU
// from a kimage plan, without QEMU's `-kernel`: every segment is placed with
// `-device loader` at the plan's address, and a 40-byte trampoline sets the
// plan's entry registers. QEMU's own DTB (dumpdtb) is the "first kernel's"
// device tree. The console must show the machine model, exactly the plan's
// command line, and the initramfs unpacked from the plan's address, with the
// kernel running /init from it.
import { describe, expect, it } from "vitest";
import { planArm64 } from "../../src/plan/arch/arm64.js";
import { memoryMap, type Range } from "../../src/plan/core/memory.js";
import type { Plan } from "../../src/plan/table.js";
import { arm64Trampoline, bootQemu, dumpVirtDtb, haveQemu, tinyInitramfs } from "../support/qemu.js";
import { readBytes, requireReal } from "../support/real.js";

const RAM_START = 0x40000000n;
const MEM_MIB = 1024;
/** QEMU puts its own DTB in the first MiB of RAM when there is no -kernel; the trampoline sits in the second MiB. */
const RESERVED: Range = { start: RAM_START, size: 0x200000n };
const TRAMPOLINE = RAM_START + 0x100000n;

const k4 = requireReal("arm64 4K kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k") && !f.signedPackage);
const k16 = requireReal("arm64 16K kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && f.path.includes("16k"));
const qemu = haveQemu("aarch64");

async function planAndBoot(kernelPath: string, cmdline: string, seed?: number) {
  const dtb = dumpVirtDtb("aarch64", MEM_MIB);
  const plan = await planArm64({
    kernel: readBytes(kernelPath),
    initrd: tinyInitramfs(),
    cmdline,
    dtb,
    memory: memoryMap([{ start: RAM_START, size: BigInt(MEM_MIB) << 20n, type: "ram" }]),
    exclude: [RESERVED],
    ...(seed !== undefined ? { seed } : {}),
  });
  const x0 = plan.entry.registers.x0 as bigint;
  const boot = await bootQemu({
    arch: "aarch64",
    memMiB: MEM_MIB,
    blobs: [...plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })), { name: "trampoline", bytes: arm64Trampoline(x0, plan.entry.pc), addr: TRAMPOLINE }],
    pc: TRAMPOLINE,
    timeoutMs: 90_000,
    until: /Kernel panic|Attempted to kill init/,
  });
  return { plan, boot };
}

function expectBooted(plan: Plan, log: string, cmdline: string): void {
  expect(log, "machine model").toContain("Machine model: linux,dummy-virt");
  const line = /Kernel command line: (.*)\r?\n/.exec(log);
  expect(line?.[1], "command line").toBe(cmdline);
  expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
  expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
  expect(log, "ran /init from the initramfs").toMatch(/Run \/init as init process/);
  const initrd = plan.segments.find((s) => s.name === "initrd");
  expect(initrd).toBeDefined();
}

describe.skipIf(!qemu || k4.length === 0)("arm64 plan boots a real Debian kernel in QEMU (no -kernel)", () => {
  const kernel = k4[0]?.abs ?? "";

  it("with the kernel's deterministic placement", async () => {
    const cmdline = "console=ttyAMA0 earlycon panic=-1 kimage.plan=deterministic";
    const { plan, boot } = await planAndBoot(kernel, cmdline);
    expect(boot.timedOut, boot.console.slice(-2000)).toBe(false);
    expectBooted(plan, boot.console, cmdline);
    // The kernel's rules: 2 MiB-aligned base + text_offset (0 for Debian), bottom-up just above the reserved range.
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb"]);
    expect(plan.entry.pc).toBe(RAM_START + 0x200000n);
    const dtb = plan.segments[2];
    expect((dtb?.mem ?? 1n) % 0x200000n).toBe(0n);
  });

  it("with two different seeds: different addresses, both boot", async () => {
    const runs = [];
    for (const seed of [1, 2]) {
      const cmdline = `console=ttyAMA0 earlycon panic=-1 kimage.seed=${seed}`;
      const { plan, boot } = await planAndBoot(kernel, cmdline, seed);
      expect(boot.timedOut, boot.console.slice(-2000)).toBe(false);
      expectBooted(plan, boot.console, cmdline);
      runs.push(plan.segments.map((s) => s.mem));
    }
    expect(runs[0]).not.toEqual(runs[1]);
  });
});

describe.skipIf(!qemu || k16.length === 0)("arm64 16K-page kernel boots from a plan", () => {
  it("boots", async () => {
    const cmdline = "console=ttyAMA0 earlycon panic=-1 kimage.pages=16k";
    const { plan, boot } = await planAndBoot(k16[0]?.abs ?? "", cmdline, 7);
    expect(boot.timedOut, boot.console.slice(-2000)).toBe(false);
    expectBooted(plan, boot.console, cmdline);
  });
});
