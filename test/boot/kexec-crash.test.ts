// The crash path of a kimage plan, for real: the Debian first kernel boots
// with crashkernel=256M and the kexec helper (test/support/kexec-helper). In a
// first boot the helper prints /proc/iomem (the "Crash kernel" region),
// /sys/kernel/vmcoreinfo and cpu0's crash_notes; kimage makes a crash plan
// (KEXEC_ON_CRASH) with its purgatory from them. In the next boot the helper
// loads it with kexec_load(2), writes "KIMAGE-MARKER:<word>" (the word from
// its command line) at the start of a page of its own memory, prints that
// page's physical address and crashes the kernel (sysrq c). The crash kernel
// runs the plan's initrd, whose /init reads /proc/vmcore, built from kimage's
// ELF core header: its PT_LOAD program headers must be the plan's, and the
// marker must be found exactly at the physical address the first kernel
// printed.
import { mkdirSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { planJson } from "../../src/cli/plan.js";
import { memoryMapFromIomem } from "../../src/plan/core/memory-parse.js";
import { regionsOfType } from "../../src/plan/core/memory.js";
import type { AnyPlan } from "../../src/plan/core/types.js";
import { PURGATORY_MISMATCH_LINE } from "../../src/plan/protocol/purgatory.js";
import { withPurgatory } from "../../src/plan/purgatory.js";
import { planTableRow } from "../../src/plan/table.js";
import { bootFirstKernel, buildHelper, haveHelperToolchain, helperInitramfs, marked, markedHex, type GuestArch } from "../support/kexec-guest.js";
import { haveQemu } from "../support/qemu.js";
import { readBytes, requireReal } from "../support/real.js";

const enc = new TextEncoder();
const STOP = /KIMAGE-VMCORE-DONE|kimage purgatory: digest mismatch|kimage helper: [^\n]* failed/;

/** The PT_LOADs (p_paddr, p_memsz) of an ELF64 little-endian core header. */
function ptLoads(elf: Uint8Array): string[] {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(dv.getBigUint64(32, true));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const out: string[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (dv.getUint32(o, true) !== 1) continue;
    out.push(`0x${dv.getBigUint64(o + 24, true).toString(16)}+0x${dv.getBigUint64(o + 40, true).toString(16)}`);
  }
  return out;
}

const hexBig = (s: string): bigint => BigInt(s.startsWith("0x") ? s : `0x${s}`);

interface CrashSetup {
  arch: GuestArch;
  planArch: "x86_64" | "arm64" | "riscv64";
  machine: string[];
  memMiB: number;
  console: string;
  kernel: string;
}

/** The crash inputs a boot printed. */
function crashInputs(console: string) {
  const iomem = marked(console, "iomem");
  const vmcoreinfo = marked(console, "vmcoreinfo")?.trim().split(/\s+/);
  const notes = marked(console, "crash_notes")?.trim();
  const notesSize = marked(console, "crash_notes_size")?.trim();
  if (!iomem || !vmcoreinfo || !notes || !notesSize) throw new Error(`the boot printed no crash inputs:\n${console.slice(-3000)}`);
  return { iomem, vmcoreinfo, notes, notesSize, fdt: markedHex(console, "fdt") };
}

async function crashRun(a: CrashSetup) {
  const helper = buildHelper(a.arch);
  const first = `console=${a.console} nokaslr panic=-1 crashkernel=256M`;
  const word = `kimageword${a.planArch.replace(/_/g, "")}${Date.now() % 100000}`;
  const cmdline = `console=${a.console} panic=-1 nr_cpus=1 kimage.mode=vmcore kimage.word=${word}`;
  const makePlan = async (c: ReturnType<typeof crashInputs>) => {
    const memory = memoryMapFromIomem(c.iomem);
    const region = regionsOfType(memory, "crash")[0];
    if (!region) throw new Error("no Crash kernel region in /proc/iomem");
    const row = planTableRow(a.planArch)!;
    const base = await row.crash!(
      { kernel: readBytes(a.kernel), initrd: helperInitramfs(helper), cmdline, ...(a.planArch === "x86_64" ? { memory } : { dtb: c.fdt! }) },
      // /sys/kernel/vmcoreinfo: "%pa %x" (kernel/ksysfs.c); crash_notes: "%llx" (drivers/base/cpu.c); crash_notes_size: "%zu".
      { region, vmcoreinfo: { addr: hexBig(c.vmcoreinfo[0]!), size: hexBig(c.vmcoreinfo[1]!) }, cpuNotes: [{ addr: hexBig(c.notes), size: BigInt(c.notesSize) }] },
    );
    const plan: AnyPlan = await withPurgatory(base, a.planArch === "x86_64" ? { memory } : { dtb: c.fdt!, memory });
    const files = plan.segments.map((_, i) => `seg-${i}.bin`);
    const planFiles = [{ name: "plan/plan.json", data: enc.encode(JSON.stringify(planJson(plan, files), null, 2)) }, ...plan.segments.map((s, i) => ({ name: `plan/${files[i]!}`, data: s.bytes }))];
    return { plan, initramfs: helperInitramfs(helper, planFiles) };
  };
  const record = (initramfs: Uint8Array) => bootFirstKernel({ ...a, initramfs, cmdline: `${first} kimage.mode=record`, timeoutMs: 150_000 });
  // The vmcoreinfo note and the crash notes are page allocations: their addresses depend on the size of
  // the first kernel's initramfs. So record twice: with the helper alone (for the map and a first plan),
  // then with that plan's initramfs, whose size the final one has (only addresses inside its files differ).
  const first1 = await record(helperInitramfs(helper));
  const draft = await makePlan(crashInputs(first1.console));
  const first2 = await record(draft.initramfs);
  const { plan, initramfs } = await makePlan(crashInputs(first2.console));
  expect(initramfs.length, "the recorded boot's initramfs has the loading boot's size").toBe(draft.initramfs.length);
  const boot = await bootFirstKernel({ ...a, initramfs, cmdline: `${first} kimage.mode=crash kimage.word=${word}`, timeoutMs: 300_000, until: STOP });
  mkdirSync("test-results", { recursive: true });
  writeFileSync(`test-results/kexec-crash-${a.arch}.log`, `${plan.notes.join("\n")}\n\n--- record boot ---\n${first2.console}\n--- crash boot ---\n${boot.console}`);
  return { record: first2, boot, plan, word };
}

function expectVmcore(r: Awaited<ReturnType<typeof crashRun>>): void {
  const { record, boot, plan } = r;
  const log = boot.console;
  expect(boot.timedOut, log.slice(-3000)).toBe(false);
  // The crash inputs the plan was made from are the loading boot's too.
  for (const tag of ["vmcoreinfo", "crash_notes", "crash_notes_size"]) expect(marked(log, tag), tag).toBe(marked(record.console, tag));
  expect(log).toContain("kimage helper: loaded the crash kernel");
  expect(log).not.toContain(PURGATORY_MISMATCH_LINE);
  const pa = /KIMAGE-MARKER-PA (0x[0-9a-f]+) present 1/.exec(log)?.[1];
  expect(pa, "the first kernel's marker page").toBeDefined();
  const crash = log.slice(log.indexOf("kimage helper: loaded the crash kernel"));
  expect(crash).toMatch(/Kernel command line: /);
  // /proc/vmcore's PT_LOADs are the plan's ELF core header's.
  const elf = plan.segments.find((s) => s.name === "elfcorehdr")!;
  const loads = [...crash.matchAll(/KIMAGE-PHDR type 1 offset 0x[0-9a-f]+ paddr (0x[0-9a-f]+) filesz 0x[0-9a-f]+ memsz (0x[0-9a-f]+)/g)].map((m) => `${m[1]!}+${m[2]!}`);
  expect(loads.length).toBeGreaterThan(0);
  expect(loads).toEqual(ptLoads(elf.bytes));
  // The marker is in the dump, at the physical address the first kernel printed.
  const found = [...crash.matchAll(/KIMAGE-VMCORE-MARKER (0x[0-9a-f]+)/g)].map((m) => m[1]);
  expect(found, crash.slice(-3000)).toContain(pa);
  expect(crash).toContain("KIMAGE-VMCORE-DONE");
}

const amd64 = requireReal("trixie amd64 kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "trixie" && !f.signedPackage);
describe.skipIf(!haveQemu("x86_64") || !haveHelperToolchain() || amd64.length === 0)("x86_64: a crash plan loaded with KEXEC_ON_CRASH yields the first kernel's memory in /proc/vmcore", () => {
  it("crash kernel, vmcore program headers, the marker at its address", async () => {
    expectVmcore(await crashRun({ arch: "x86_64", planArch: "x86_64", machine: ["-M", "pc"], memMiB: 1024, console: "ttyS0", kernel: amd64[0]?.abs ?? "" }));
  }, 600_000);
});

const arm64 = requireReal("trixie arm64 4K kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k") && !f.signedPackage);
describe.skipIf(!haveQemu("aarch64") || !haveHelperToolchain() || arm64.length === 0)("arm64: a crash plan loaded with KEXEC_ON_CRASH yields the first kernel's memory in /proc/vmcore", () => {
  it("crash kernel, vmcore program headers, the marker at its address", async () => {
    expectVmcore(await crashRun({ arch: "aarch64", planArch: "arm64", machine: ["-M", "virt", "-cpu", "max,lpa2=off"], memMiB: 1024, console: "ttyAMA0", kernel: arm64[0]?.abs ?? "" }));
  }, 600_000);
});

const riscv = requireReal("trixie riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel" && f.suite === "trixie");
describe.skipIf(!haveQemu("riscv64") || !haveHelperToolchain() || riscv.length === 0)("riscv64: a crash plan loaded with KEXEC_ON_CRASH yields the first kernel's memory in /proc/vmcore", () => {
  it("crash kernel, vmcore program headers, the marker at its address", async () => {
    expectVmcore(await crashRun({ arch: "riscv64", planArch: "riscv64", machine: ["-M", "virt"], memMiB: 1024, console: "ttyS0", kernel: riscv[0]?.abs ?? "" }));
  }, 600_000);
});
