// The real path on ppc64el: a Debian ppc64el kernel built with CONFIG_KEXEC
// (the config-* beside it says so) boots first in QEMU pseries from kimage's
// own plan (no -kernel, no SLOF: test/support/qemu-ppc64.ts, as
// boot-ppc64.test.ts), with an initramfs whose /init is the static helper.
// A record boot prints the running kernel's /chosen/linux,kernel-end
// (__pa(_end)); kimage plans the second kernel above it (`loadAbove`:
// machine_kexec_prepare refuses a segment below __pa(_end) with -ETXTBSY)
// WITH kimage's ppc64 purgatory. In the kexec boot the helper reads
// plan.json, calls kexec_load(2) and reboot(LINUX_REBOOT_CMD_KEXEC); the
// kernel's kexec_sequence enters the purgatory in real mode, which checks the
// digest, writes boot_cpuid_phys and enters the kernel with r3 = DT, r4 = the
// kernel base, r5 = 0; the kernel copies itself down to 0 and must print the
// plan's command line and run /init from the plan's initrd. With one byte of
// one segment file changed, the purgatory must print its mismatch line on the
// hypervisor console (H_PUT_TERM_CHAR) and the second kernel must not start.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { planPpc64, type Ppc64Plan } from "../../src/plan/arch/ppc64.js";
import { PURGATORY_MISMATCH_LINE } from "../../src/plan/protocol/purgatory.js";
import { withPurgatory, type PurgatoryPlan } from "../../src/plan/purgatory.js";
import { buildHelper, haveHelperToolchain, helperInitramfs, markedHex, kexecPlanFiles } from "../support/kexec-guest.js";
import { bootQemuPpc64, dumpPseriesDtb, haveQemuPpc64 } from "../support/qemu-ppc64.js";
import { readBytes, requireReal } from "../support/real.js";

const MEM_MIB = 1024;
/** QEMU writes its own device tree below the top of the RMA at every reset; the first boot's trampoline sits below that. */
const RESERVED = { start: 0x3f000000n, size: 0x1000000n };
const TRAMPOLINE = 0x3f000000n;
const SMP = ["-smp", "1"];
const KEXEC_STOP = /KIMAGE-SECOND-INIT[^\n]*\n|kimage purgatory: digest mismatch|kimage helper: [^\n]* failed: -?\d+\r?\n|Kernel panic/;
const LOADED = "kimage helper: loaded; reboot(LINUX_REBOOT_CMD_KEXEC)";

const withKexec = requireReal("ppc64el vmlinux", (f) => f.arch === "ppc64el" && f.kind === "kernel").filter((k) => {
  // Only a first kernel built with CONFIG_KEXEC has kexec_load(2).
  try {
    const config = readFileSync(join(dirname(k.abs), k.path.split("/").pop()!.replace(/^vmlinux-/, "config-")), "utf8");
    return /^CONFIG_KEXEC=y$/m.test(config);
  } catch {
    return false;
  }
});

/** Boots the first kernel from kimage's own plan (QEMU's pseries tree, the reserved top of the RMA excluded). */
async function bootFirst(kernel: Uint8Array, initramfs: Uint8Array, cmdline: string, until: RegExp, timeoutMs: number) {
  const plan = await planPpc64({ kernel, initrd: initramfs, cmdline, dtb: dumpPseriesDtb(MEM_MIB), exclude: [RESERVED] });
  const r = plan.entry.registers;
  return bootQemuPpc64({
    memMiB: MEM_MIB,
    blobs: plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })),
    registers: { r3: r.r3 ?? -1n, r4: r.r4 ?? -1n, r5: r.r5 ?? -1n },
    entry: plan.entry.pc,
    trampoline: TRAMPOLINE,
    timeoutMs,
    until,
    extraArgs: SMP,
  });
}


const helper = haveQemuPpc64() && haveHelperToolchain() ? buildHelper("ppc64") : null;

describe.skipIf(withKexec.length === 0 || helper === null)("ppc64el: kexec_load(2) of a kimage plan, through kimage's purgatory", () => {
  for (const k of withKexec) describe(k.suite, () => proveKernel(k));
});

function proveKernel(k: (typeof withKexec)[number]): void {
  let ctx: Promise<{ plan: PurgatoryPlan<Ppc64Plan>; atZero: PurgatoryPlan<Ppc64Plan>; kernelEnd: bigint; cmdline: string; record: string }> | undefined;
  const get = () =>
    (ctx ??= (async () => {
      const kernel = readBytes(k.abs);
      const record = await bootFirst(kernel, helperInitramfs(helper!), "console=hvc0 panic=-1 kimage.mode=record", /KIMAGE-END kernel-end|kimage helper: [^\n]* failed|Kernel panic/, 200_000);
      const endHex = markedHex(record.console, "kernel-end");
      expect(endHex?.length, record.console.slice(-3000)).toBe(8);
      const kernelEnd = new DataView(endHex!.buffer).getBigUint64(0, false);
      const cmdline = `console=hvc0 panic=-1 kimage.mode=second kimage.word=purgatory-ppc64`;
      const dtb = dumpPseriesDtb(MEM_MIB);
      const base = await planPpc64({ kernel, initrd: helperInitramfs(helper!), cmdline, dtb, loadAbove: kernelEnd });
      const plan = await withPurgatory(base, { dtb });
      // Today's default plan (the kernel at p_paddr 0): what machine_kexec_prepare refuses.
      const atZero = await withPurgatory(await planPpc64({ kernel, initrd: helperInitramfs(helper!), cmdline, dtb }), { dtb });
      return { plan, atZero, kernelEnd, cmdline, record: record.console };
    })());
  const run = async (flip?: string, which: "plan" | "atZero" = "plan") => {
    const c = await get();
    const plan = c[which];
    const boot = await bootFirst(readBytes(k.abs), helperInitramfs(helper!, kexecPlanFiles(plan, flip)), "console=hvc0 panic=-1 kimage.mode=kexec", KEXEC_STOP, 400_000);
    mkdirSync("test-results", { recursive: true });
    const tag = which === "atZero" ? "at-zero" : flip === undefined ? "ok" : "flip";
    writeFileSync(`test-results/kexec-load-ppc64-${k.suite}-${tag}.log`, `${plan.notes.join("\n")}\n\n--- record boot ---\n${c.record}\n--- kexec boot ---\n${boot.console}`);
    const at = boot.console.indexOf(LOADED);
    return { boot, after: at < 0 ? "" : boot.console.slice(at) };
  };

  it("the plan keeps every segment above the running kernel's __pa(_end) and enters through the purgatory", async () => {
    const { plan, kernelEnd } = await get();
    expect(kernelEnd).toBeGreaterThan(0n);
    for (const s of plan.segments) expect(s.mem, s.name).toBeGreaterThanOrEqual(kernelEnd);
    const seg = plan.segments.at(-1)!;
    expect(seg.name).toBe("purgatory");
    expect(plan.entry.pc).toBe(seg.mem + plan.purgatory.entryOffset);
    expect(plan.purgatory.console).toEqual({ kind: "hvterm", addr: 0x71000000n });
    expect(plan.purgatory.kernelEntry.registers.r4).toBe(plan.segments[0]!.mem);
  }, 400_000);

  it("the second kernel boots with the plan's command line and runs the plan's initrd", async () => {
    const { cmdline } = await get();
    const { boot, after } = await run();
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expect(after, boot.console.slice(-3000)).not.toBe("");
    expect(after).not.toContain(PURGATORY_MISMATCH_LINE);
    expect(after, after.slice(-3000)).toMatch(/Linux version \S+-powerpc64le/);
    expect(after).toContain(`Kernel command line: ${cmdline}`);
    // The second kernel found its initrd where the plan put it (a linear-map address: PAGE_OFFSET + physical).
    const initrd = (await get()).plan.segments.find((s) => s.name === "initrd")!;
    expect(after).toContain(`Found initrd at 0x${(0xc000000000000000n + initrd.mem).toString(16)}:0x${(0xc000000000000000n + initrd.mem + BigInt(initrd.bytes.length)).toString(16)}`);
    expect(after).toMatch(/Run \/init as init process/);
    expect(after).toContain(`KIMAGE-SECOND-INIT /init from the plan's initrd; /proc/cmdline: ${cmdline}`);
  }, 600_000);

  it("a changed byte in the kernel segment's file: the purgatory refuses, the second kernel never starts", async () => {
    const { plan } = await get();
    const { boot, after } = await run(plan.segments[0]!.name);
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expect(after, boot.console.slice(-3000)).toContain(PURGATORY_MISMATCH_LINE);
    expect(after).not.toMatch(/Linux version|Kernel command line|KIMAGE-SECOND-INIT/);
  }, 600_000);

  it("the same plan without loadAbove (the kernel at p_paddr 0) is refused by kexec_load: -ETXTBSY", async () => {
    const { atZero } = await get();
    expect(atZero.segments[0]!.mem).toBe(0n);
    const { boot } = await run(undefined, "atZero");
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    // include/uapi/asm-generic/errno-base.h: "#define ETXTBSY 26 /* Text file busy */"
    expect(boot.console, boot.console.slice(-3000)).toContain("kimage helper: kexec_load failed: -26");
  }, 600_000);
}
