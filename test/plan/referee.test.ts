// The real kernel as referee for placement (issue 13, item 5). `npm run
// referee` recorded, in QEMU guests, where Debian's kernels put every
// segment when they kexec_file_load(2) themselves with a 1234-byte initrd
// (test/support/referee.ts; the recordings are test/plan/referee/<id>/).
// Here kimage's deterministic plan is replayed on every run against those
// recordings, segment for segment (bufsz, mem, memsz), from the same inputs
// the kernel had: the guest's /proc/iomem, the command line, the initrd, and
// the loaded bzImage's setup header (setup.hex; the protected-mode bytes only
// count by their length, so the replay does not depend on which point release
// fixtures/real holds today) — plus what kimage cannot see in a bzImage: the
// loading kernel's own purgatory and its version of the hole search
// (X86_RUNNING_KERNELS).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { planArm64 } from "../../src/plan/arch/arm64.js";
import { planX86_64, X86_RUNNING_KERNELS } from "../../src/plan/arch/x86.js";
import { memoryMapFromMemblock } from "../../src/plan/core/memblock.js";
import { memoryMapFromIomem } from "../../src/plan/core/memory-parse.js";
import { bzImageLength, parseKernelSegments, readRecording, refereeInitrd, REFEREE_TARGETS, type KernelSegment, type Recording } from "../support/referee.js";

const hex = (n: bigint) => `0x${n.toString(16)}`;
const show = (s: KernelSegment[]) => s.map((x) => `${x.index}: bufsz ${hex(x.bufsz)} mem ${hex(x.mem)} memsz ${hex(x.memsz)}`);

/** The bzImage as the kernel read it: the recorded real-mode part, then zeros up to the header's length (kern16 + syssize × 16). */
function kernelOf(r: Recording): Uint8Array {
  if (!r.setup) throw new Error(`${r.id}: no setup.hex`);
  const k = new Uint8Array(bzImageLength(r.setup));
  k.set(r.setup);
  return k;
}

/** kimage's segments in the kernel's order: the kernel's purgatory (kept free), boot_params, kernel, initrd. */
async function replayX86(r: Recording, model?: (typeof X86_RUNNING_KERNELS)[keyof typeof X86_RUNNING_KERNELS]): Promise<KernelSegment[]> {
  const plan = await planX86_64({
    kernel: kernelOf(r),
    initrd: refereeInitrd(r.meta.initrdSize),
    cmdline: r.meta.cmdline,
    memory: memoryMapFromIomem(r.iomem),
    ...(model ? { kernelPurgatory: model.kernelPurgatory, search: model.search } : {}),
  });
  const kp = plan.bootParams.kernelPurgatory;
  const segs = [...(kp ? [{ bufsz: kp.bufsz, mem: kp.mem, memsz: kp.memsz }] : []), ...plan.segments.map((s) => ({ bufsz: BigInt(s.bytes.length), mem: s.mem, memsz: s.memsz }))];
  return segs.map((s, index) => ({ index, ...s }));
}

describe("the kernel's own lines", () => {
  it("parses 6.1's pr_debug and 6.8+'s KEXEC_FILE_DEBUG segment lines; the last series wins", () => {
    const text = [
      "kexec_file: Loading segment 0: buf=0x(____ptrval____) bufsz=0x4000 mem=0x9a000 memsz=0x5000",
      "kexec_file: segment[0]: buf=0x(____ptrval____) bufsz=0x4000 mem=0x3ffdb000 memsz=0x5000",
      "kexec_file: segment[1]: buf=0x(____ptrval____) bufsz=0x10f0 mem=0x3ffd9000 memsz=0x2000",
    ].join("\n");
    expect(show(parseKernelSegments(text))).toEqual(["0: bufsz 0x4000 mem 0x3ffdb000 memsz 0x5000", "1: bufsz 0x10f0 mem 0x3ffd9000 memsz 0x2000"]);
  });
});

for (const t of REFEREE_TARGETS.filter((x) => x.arch === "x86_64")) {
  const r = readRecording(t.id);
  const series = t.id.slice(t.id.indexOf("-") + 1) as keyof typeof X86_RUNNING_KERNELS;
  describe.skipIf(!r)(`referee ${t.id}: kexec_file_load's placement, replayed`, () => {
    it("the recording is a successful load with four segments (the kernel's purgatory, boot_params, kernel, initrd)", () => {
      expect(r!.meta.result).toBe(0);
      expect(r!.segments.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    });

    it("kimage with the running kernel's purgatory and hole search matches segment for segment", async () => {
      const model = X86_RUNNING_KERNELS[series];
      expect(model, `no X86_RUNNING_KERNELS entry for ${series}`).toBeDefined();
      expect(show(await replayX86(r!, model))).toEqual(show(r!.segments));
    });

    it("the CLI: kimage plan --iomem … --running-kernel SERIES gives the same placement", async () => {
      const dir = mkdtempSync(join(tmpdir(), "kimage-referee-"));
      try {
        writeFileSync(join(dir, "kernel"), kernelOf(r!));
        writeFileSync(join(dir, "initrd"), refereeInitrd(r!.meta.initrdSize));
        writeFileSync(join(dir, "iomem"), r!.iomem);
        const out: string[] = [];
        const err: string[] = [];
        const args = ["plan", "--arch", "x86_64", "--kernel", join(dir, "kernel"), "--initrd", join(dir, "initrd"), "--cmdline", r!.meta.cmdline, "--iomem", join(dir, "iomem"), "--running-kernel", series, "--json"];
        const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
        expect(code, err.join("\n")).toBe(0);
        const j = JSON.parse(out.join("\n")) as { segments: Array<{ mem: string; memsz: string; bufsz: string }>; bootParams: { kernelPurgatory: { mem: string; memsz: string; bufsz: string } } };
        const kp = j.bootParams.kernelPurgatory;
        const segs = [kp, ...j.segments].map((s, index) => ({ index, bufsz: BigInt(s.bufsz), mem: BigInt(s.mem), memsz: BigInt(s.memsz) }));
        expect(show(segs)).toEqual(show(r!.segments));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("without them it does not: the inputs are what makes the mirror exact", async () => {
      const plain = await replayX86(r!);
      if (process.env.KIMAGE_REFEREE_SHOW) console.log(t.id, "kimage without the inputs:", show(plain));
      // kimage alone plans no purgatory: three segments, and at least one of them elsewhere than the kernel put it.
      const kernelRest = r!.segments.slice(1).map((s, index) => ({ ...s, index }));
      expect(show(plain)).not.toEqual(show(kernelRest));
    });
  });
}

describe.skipIf(!readRecording("x86_64-6.12"))("--efi-map-size", () => {
  it("an EFI-booted loading kernel's boot_params: 0x180 bytes of runtime map make bufsz 0x1270 (the issue's OVMF measurement), BIOS 0x10f0", async () => {
    const r = readRecording("x86_64-6.12")!;
    const dir = mkdtempSync(join(tmpdir(), "kimage-referee-"));
    try {
      writeFileSync(join(dir, "kernel"), kernelOf(r));
      writeFileSync(join(dir, "iomem"), r.iomem);
      const bufsz = async (...extra: string[]) => {
        const out: string[] = [];
        const code = await main(["plan", "--arch", "x86_64", "--kernel", join(dir, "kernel"), "--cmdline", r.meta.cmdline, "--iomem", join(dir, "iomem"), "--json", ...extra], { out: (s) => out.push(s), err: () => {} });
        expect(code).toBe(0);
        return (JSON.parse(out.join("\n")) as { segments: Array<{ name: string; bufsz: string }> }).segments.find((s) => s.name === "bootparams")?.bufsz;
      };
      expect(await bufsz()).toBe(hex(r.segments[1]!.bufsz));
      expect(await bufsz("--efi-map-size", "0x180")).toBe("0x1270");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// arm64: kexec_file walks memblock's free ranges (kexec_walk_memblock), not /proc/iomem, and places
// kernel, initrd, DTB with no purgatory. The referee kernel is built from Debian's linux-source with
// CONFIG_KEXEC_FILE (Debian's arm64 kernels lack it); see the README's plan section.
const arm = readRecording("arm64-6.12");
describe.skipIf(!arm)("referee arm64-6.12: kexec_file_load's placement, replayed", () => {
  const replay = async (memory: ReturnType<typeof memoryMapFromMemblock>) => {
    const kernel = new Uint8Array(arm!.meta.kernelLength ?? 0);
    kernel.set(arm!.image ?? new Uint8Array(0));
    const plan = await planArm64({
      kernel,
      initrd: refereeInitrd(arm!.meta.initrdSize),
      cmdline: arm!.meta.cmdline,
      dtb: arm!.fdt ?? new Uint8Array(0),
      memory,
      // rng_is_initialized() in the recording: the kernel's DTB carries kaslr-seed and rng-seed.
      ...(arm!.meta.rngReady ? { dtbSeed: 1n } : {}),
    });
    return plan.segments.map((s, index) => ({ index, bufsz: BigInt(s.bytes.length), mem: s.mem, memsz: s.memsz }));
  };

  it("the recording is a successful load: kernel, initrd, dtb", () => {
    expect(arm!.meta.result).toBe(0);
    expect(arm!.segments.map((s) => s.index)).toEqual([0, 1, 2]);
  });

  it("kimage on memblock's view (--memblock) matches segment for segment", async () => {
    const memory = memoryMapFromMemblock(arm!.memblockMemory ?? "", arm!.memblockReserved ?? "");
    expect(show(await replay(memory))).toEqual(show(arm!.segments));
  });

  it("the CLI: kimage plan --memblock DIR --dtb-seed N gives the same placement", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-referee-"));
    try {
      const kernel = new Uint8Array(arm!.meta.kernelLength ?? 0);
      kernel.set(arm!.image ?? new Uint8Array(0));
      writeFileSync(join(dir, "kernel"), kernel);
      writeFileSync(join(dir, "initrd"), refereeInitrd(arm!.meta.initrdSize));
      writeFileSync(join(dir, "dtb"), arm!.fdt ?? new Uint8Array(0));
      writeFileSync(join(dir, "memory"), arm!.memblockMemory ?? "");
      writeFileSync(join(dir, "reserved"), arm!.memblockReserved ?? "");
      const out: string[] = [];
      const err: string[] = [];
      const args = ["plan", "--arch", "arm64", "--kernel", join(dir, "kernel"), "--initrd", join(dir, "initrd"), "--cmdline", arm!.meta.cmdline, "--dtb", join(dir, "dtb"), "--memblock", dir, ...(arm!.meta.rngReady ? ["--dtb-seed", "7"] : []), "--json"];
      const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
      expect(code, err.join("\n")).toBe(0);
      const j = JSON.parse(out.join("\n")) as { segments: Array<{ mem: string; memsz: string; bufsz: string }> };
      expect(show(j.segments.map((s, index) => ({ index, bufsz: BigInt(s.bufsz), mem: BigInt(s.mem), memsz: BigInt(s.memsz) })))).toEqual(show(arm!.segments));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("on /proc/iomem it does not: the running kernel's image is System RAM there, reserved in memblock", async () => {
    const fromIomem = await replay(memoryMapFromIomem(arm!.iomem));
    // iomem offers 0x40000000 for the 2 MiB-aligned kernel; memblock has only 2 MiB free below the running kernel.
    expect(fromIomem[0]!.mem).not.toBe(arm!.segments[0]!.mem);
    expect(fromIomem[0]!.mem).toBeLessThan(arm!.segments[0]!.mem);
  });
});
