// Boot proof: a real Debian amd64 kernel boots in QEMU from a kimage x86_64
// plan, without QEMU's Linux loader (no -kernel, -initrd, -append) and
// without a BIOS: a 64 KiB firmware assembled at test time
// (test/support/x86-firmware.ts) is the only code before the kernel; it sets
// the plan's entry state (the 32-bit protocol's, or the 64-bit one kexec's
// purgatory hands over) and jumps. Every segment (boot_params + command line
// + setup_data, the kernel, the initrd) is a `-device loader` blob at the
// plan's address. The console must show exactly the plan's command line, the
// plan's e820 table as the "BIOS-provided physical RAM map", and the plan's
// initramfs unpacked with /init run from it.
import { mkdirSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { e820TypeName } from "../../src/plan/protocol/bootparams.js";
import { planX86_64, type X86Entry32, type X86Plan } from "../../src/plan/arch/x86.js";
import { haveQemu, tinyInitramfs } from "../support/qemu.js";
import { readBytes, requireReal } from "../support/real.js";
import { QEMU_PC_EXCLUDE, bootX86, buildX86Firmware, haveBinutils, qemuPcMemory } from "../support/x86-firmware.js";

const MEM_MIB = 512;
const MIB = 0x100000n;
/**
 * The machine as a PC BIOS would describe it: low RAM below the EBDA, the
 * legacy ROM area reserved, RAM from 1 MiB to the end of `-m`, the firmware
 * ROM reserved at the top of 4 GiB.
 */
const MEMORY = qemuPcMemory(MEM_MIB);
const EXCLUDE = QEMU_PC_EXCLUDE;

const trixie = requireReal("trixie amd64 kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "trixie" && !f.signedPackage);
const bookworm = requireReal("bookworm amd64 kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "bookworm" && !f.signedPackage);
const ready = haveQemu("x86_64") && haveBinutils();

async function planAndBoot(kernelPath: string, cmdline: string, mode: "entry32" | "entry64", seed?: number) {
  const plan = await planX86_64({
    kernel: readBytes(kernelPath),
    initrd: tinyInitramfs(),
    cmdline,
    memory: MEMORY,
    exclude: EXCLUDE,
    ...(seed !== undefined ? { seed } : {}),
  });
  const e32 = plan.bootParams.entry32 as X86Entry32 | null;
  if (mode === "entry32" && !e32) throw new Error("the plan has no 32-bit entry");
  const firmware =
    mode === "entry32" && e32
      ? buildX86Firmware({ mode, bootParams: e32.esi, entry: e32.eip })
      : buildX86Firmware({ mode, bootParams: plan.entry.registers.rsi as bigint, entry: plan.entry.pc });
  const boot = await bootX86({
    firmware,
    memMiB: MEM_MIB,
    blobs: plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })),
    timeoutMs: 110_000,
    until: /Kernel panic|Attempted to kill init/,
  });
  // The console stays inspectable after the run (test-results/ is git-ignored).
  mkdirSync("test-results", { recursive: true });
  writeFileSync(`test-results/boot-x86_64-${mode}-${seed ?? "det"}-${cmdline.split("=").pop()}.log`, `${boot.args.join(" ")}\n\n${plan.notes.join("\n")}\n\n${boot.console}`);
  return { plan, boot };
}

/** The "BIOS-e820: [mem 0x…-0x…] type" lines of the console. */
function consoleE820(log: string): string[] {
  return [...log.matchAll(/BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] ([^\r\n]+)/g)].map((m) => `${BigInt(m[1]!)}-${BigInt(m[2]!)} ${m[3]!.trim()}`);
}

function expectBooted(plan: X86Plan, log: string, cmdline: string, args: string[]): void {
  // QEMU's Linux loader is never used: every byte comes from the plan's segments.
  for (const flag of ["-kernel", "-initrd", "-append", "-dtb"]) expect(args).not.toContain(flag);
  expect(args.filter((a) => a.startsWith("loader,")).length).toBe(plan.segments.length);
  const line = /Kernel command line: (.*)\r?\n/.exec(log);
  expect(line?.[1], "command line").toBe(cmdline);
  expect(plan.cmdline).toBe(cmdline);
  expect(log, "e820 map from the plan").toContain("BIOS-provided physical RAM map:");
  const e820 = plan.bootParams.e820 as { addr: bigint; size: bigint; type: number }[];
  expect(consoleE820(log)).toEqual(e820.map((e) => `${e.addr}-${e.addr + e.size - 1n} ${e820TypeName(e.type)}`));
  // early_reserve_initrd: "RAMDISK: [mem %#010llx-%#010llx]" with the end page-aligned: the plan's initrd address.
  const initrd = plan.segments.find((s) => s.name === "initrd")!;
  const ramdisk = /RAMDISK: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]/.exec(log);
  expect(ramdisk && BigInt(ramdisk[1]!), "RAMDISK at the plan's initrd").toBe(initrd.mem);
  expect(ramdisk && BigInt(ramdisk[2]!) + 1n).toBe(initrd.mem + initrd.memsz);
  expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
  expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
  expect(log, "ran /init from the initramfs").toMatch(/Run \/init as init process/);
}

describe.skipIf(!ready || trixie.length === 0)("x86_64 plan boots a real Debian kernel in QEMU (no -kernel, no BIOS)", () => {
  const kernel = trixie[0]?.abs ?? "";

  it("32-bit entry, the kernel's deterministic placement", async () => {
    const cmdline = "console=ttyS0 panic=-1 kimage.plan=entry32";
    const { plan, boot } = await planAndBoot(kernel, cmdline, "entry32");
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectBooted(plan, boot.console, cmdline, boot.args);
    // top-down from the end of RAM: boot_params in the last pages, the kernel 2 MiB-aligned below it.
    expect(plan.segments.map((s) => s.name)).toEqual(["bootparams", "kernel", "initrd"]);
    const [bp, k] = plan.segments;
    expect(bp!.mem + bp!.memsz).toBe(BigInt(MEM_MIB) * MIB);
    expect(k!.mem % 0x200000n).toBe(0n);
  });

  it("64-bit entry with two seeds: different addresses, both boot", async () => {
    const runs: bigint[][] = [];
    for (const seed of [1, 2]) {
      const cmdline = `console=ttyS0 panic=-1 kimage.seed=${seed}`;
      const { plan, boot } = await planAndBoot(kernel, cmdline, "entry64", seed);
      expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
      expectBooted(plan, boot.console, cmdline, boot.args);
      // The plan's SETUP_RNG_SEED setup_data seeds the CRNG before anything else runs.
      expect(boot.console).toMatch(/\[\s*0\.000000\] random: crng init done/);
      runs.push(plan.segments.map((s) => s.mem));
    }
    expect(runs[0]).not.toEqual(runs[1]);
  }, 240_000);
});

describe.skipIf(!ready || bookworm.length === 0)("x86_64 plan boots the bookworm (xz) kernel", () => {
  it("64-bit entry, deterministic", async () => {
    const cmdline = "console=ttyS0 panic=-1 kimage.kernel=bookworm";
    const { plan, boot } = await planAndBoot(bookworm[0]?.abs ?? "", cmdline, "entry64");
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectBooted(plan, boot.console, cmdline, boot.args);
  });
});
