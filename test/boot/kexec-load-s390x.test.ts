// The real path on s390x, through kimage's purgatory: a Debian s390x kernel
// built with CONFIG_KEXEC (the config beside it says so) boots first with an
// initramfs whose /init is the static helper; it reads plan.json's
// kexec_load arguments (planJson → kexecLoadCall: entry 0, KEXEC_ARCH_S390)
// and the segment files, calls kexec_load(2) and
// reboot(LINUX_REBOOT_CMD_KEXEC). relocate_kernel copies the segments and,
// entry being 0, resets with diag 0x308 to the restart PSW the plan wrote at
// 0 (machine_kexec_file.c's way): kimage's purgatory switches to
// z/Architecture, checks the SHA-256 digest, writes the kernel's PSW at 0 and
// resets again. The second kernel must print the plan's command line and run
// /init from the plan's initrd. With one byte of the kernel segment's *file*
// changed after the digest was computed, the purgatory must write its
// mismatch line on the SCLP console and stop in its disabled wait (QEMU, run
// with -d guest_errors, reports the wait PSW with the code 0x4b494d47), and
// the second kernel must not start.
//
// The plan alone (without purgatory, kexec_load's entry the kernel's
// 0x10000) is proven by QEMU in boot-s390x.test.ts; kexec_load without a
// purgatory adds nothing a kimage plan needs, so it is not repeated here.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { planJson } from "../../src/cli/plan.js";
import { planS390, S390_RESTART_PSW_MASK } from "../../src/plan/arch/s390.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import type { AnyPlan } from "../../src/plan/core/types.js";
import { PURGATORY_MISMATCH_LINE } from "../../src/plan/protocol/purgatory.js";
import { withPurgatory } from "../../src/plan/purgatory.js";
import { helperInitramfs, kexecPlanFiles } from "../support/kexec-guest.js";
import { bootFirstS390, buildS390Helper, haveQemuS390 } from "../support/qemu-s390.js";
import { readBytes, requireReal } from "../support/real.js";

const MEM_MIB = 512;
const LOADED = "kimage helper: loaded; reboot(LINUX_REBOOT_CMD_KEXEC)";
/** purgatory/s390x/entry.S: the disabled-wait PSW (wait, EA, BA) and its address, the code "KIMG". */
const WAIT_PSW = /PSW: 0x0002000180000000 0x000000004b494d47/;

const withKexec = requireReal("s390x kernel", (f) => f.arch === "s390x" && f.kind === "kernel").filter((k) => {
  // Only a first kernel built with CONFIG_KEXEC has kexec_load(2) (trixie's s390x kernel has neither KEXEC nor KEXEC_FILE).
  try {
    const dir = dirname(k.abs);
    const config = readFileSync(join(dir, k.path.split("/").pop()!.replace(/^vmlinuz-/, "config-")), "utf8");
    return /^CONFIG_KEXEC=y$/m.test(config);
  } catch {
    return false;
  }
});
const helper = haveQemuS390() ? buildS390Helper() : null;


describe.skipIf(withKexec.length === 0 || helper === null)("s390x: kexec_load(2) of a kimage plan, through kimage's purgatory", () => {
  const k = withKexec[0];
  const cmdline = `console=ttysclp0 panic=-1 kimage.mode=second kimage.word=purgatory-s390x`;
  let planned: Promise<AnyPlan> | undefined;
  const plan = () =>
    (planned ??= (async () => {
      const memory = memoryMap([{ start: 0n, size: BigInt(MEM_MIB) << 20n, type: "ram" }]);
      const base = await planS390({ kernel: readBytes(k!.abs), initrd: helperInitramfs(helper!), cmdline, memory });
      return withPurgatory(base, { memory });
    })());
  const run = async (flip?: string) => {
    const p = await plan();
    const boot = await bootFirstS390({
      kernel: k!.abs,
      initramfs: helperInitramfs(helper!, kexecPlanFiles(p, flip)),
      cmdline: "console=ttysclp0 panic=-1 kimage.mode=kexec",
      memMiB: MEM_MIB,
      timeoutMs: 240_000,
      extra: ["-d", "guest_errors"],
      until: /KIMAGE-SECOND-INIT[^\n]*\n|kimage helper: [^\n]* failed|Kernel panic|PSW: 0x[0-9a-f]{16} 0x[0-9a-f]{16}/,
    });
    mkdirSync("test-results", { recursive: true });
    writeFileSync(`test-results/kexec-load-s390x-${flip ?? "ok"}.log`, `${p.notes.join("\n")}\n\n${boot.console}`);
    const at = boot.console.indexOf(LOADED);
    return { p, boot, after: at < 0 ? "" : boot.console.slice(at) };
  };

  it(`${k?.suite ?? ""}: the plan's kexec_load arguments: entry 0, KEXEC_ARCH_S390, the restart PSW at 0 enters the purgatory`, async () => {
    const p = await plan();
    const json = planJson(p, p.segments.map((_, i) => `seg-${i}.bin`)) as { kexec_load: { entry: string; flags: string; flagNames: string[] } };
    expect(json.kexec_load.entry).toBe("0x0");
    expect(json.kexec_load.flags).toBe(`0x${(22 << 16).toString(16)}`);
    expect(json.kexec_load.flagNames).toEqual(["KEXEC_ARCH_S390"]);
    const purg = p.segments.at(-1)!;
    const psw = new DataView(p.segments[0]!.bytes.buffer, p.segments[0]!.bytes.byteOffset).getBigUint64(0, false);
    expect(psw - S390_RESTART_PSW_MASK).toBeGreaterThan(purg.mem);
    expect(psw - S390_RESTART_PSW_MASK).toBeLessThan(purg.mem + BigInt(purg.bytes.length));
  }, 120_000);

  it(`${k?.suite ?? ""}: the second kernel boots through the purgatory with the plan's command line and runs the plan's initrd`, async () => {
    const { boot, after } = await run();
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expect(after, boot.console.slice(-3000)).not.toBe("");
    expect(after).not.toContain(PURGATORY_MISMATCH_LINE);
    expect(after, after.slice(-3000)).toMatch(/Kernel command line: console=ttysclp0 panic=-1 kimage.mode=second kimage.word=purgatory-s390x/);
    expect(after).toContain(`KIMAGE-SECOND-INIT /init from the plan's initrd; /proc/cmdline: ${cmdline}`);
  }, 300_000);

  it(`${k?.suite ?? ""}: a changed byte in the kernel segment's file: the purgatory refuses and stops in its disabled wait, the second kernel never starts`, async () => {
    const { boot, after } = await run("kernel");
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expect(after, boot.console.slice(-3000)).toContain(PURGATORY_MISMATCH_LINE);
    expect(after).toMatch(WAIT_PSW);
    expect(after).not.toMatch(/Linux version|Kernel command line|KIMAGE-SECOND-INIT/);
  }, 300_000);
});
