// The LoongArch plan: kexec_efi.c efi_kexec_load + machine_kexec_file.c
// load_other_segments computed by hand from the real Debian loong64 kernel
// (pe → zboot → zstd → pe → loongarch-image), the command line the kernel
// builds, the entry registers, the retry loop and refusals.
import { describe, expect, it } from "vitest";
import { parseLoongarchHeader } from "../../src/formats/loongarch/image.js";
import { LOONGARCH_CACHE_BASE, LOONGARCH_KEXEC_CMDLINE_PHYS, planLoongarch } from "../../src/plan/arch/loongarch.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { innermostImage } from "../../src/plan/core/unwrap.js";
import { planTableRow } from "../../src/plan/table.js";
import { rejectionCode, segmentNamed } from "../support/plan-builders.js";
import { readBytes, requireReal } from "../support/real.js";

const MiB = 0x100000n;
const SZ_2M = 0x200000n;
const PAGE = 0x4000n;
const up = (x: bigint, a: bigint) => ((x + a - 1n) / a) * a;
const kernels = requireReal("loong64 kernel", (f) => f.arch === "loong64" && f.kind === "kernel");
const ram = memoryMap([{ start: 0n, size: 256n * MiB, type: "ram" }, { start: 0x90000000n, size: 768n * MiB, type: "ram" }]);
const initrd = new Uint8Array(0x12345).fill(3);

describe.skipIf(kernels.length === 0)("LoongArch plan of the real Debian loong64 kernel", () => {
  const bytes = () => readBytes(kernels[0]!.abs);

  it("efi_kexec_load's placement, the command line it builds, the entry", async () => {
    const inner = await innermostImage(bytes(), "loongarch-image");
    expect(inner.chain).toEqual(["pe", "zboot", "zstd", "pe", "loongarch-image"]);
    const h = parseLoongarchHeader(inner.bytes);
    const plan = await planLoongarch({ kernel: bytes(), initrd, cmdline: "console=ttyS0 x=1", memory: ram, systemTable: 0x1234000n });
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "cmdline"]);
    const k = segmentNamed(plan, "kernel");
    // bottom-up from text_offset, 2 MiB-aligned
    expect(k.mem).toBe(up(h.text_offset, SZ_2M));
    expect(k.memsz).toBe(up(h.kernel_asize, PAGE));
    expect(k.bytes.length).toBe(inner.bytes.length);
    const i = segmentNamed(plan, "initrd");
    expect(i.mem).toBe(k.mem + k.memsz);
    const full = `kexec_file initrd=0x${i.mem.toString(16)},0x${initrd.length.toString(16)} console=ttyS0 x=1`;
    expect(plan.bootParams.fullCmdline).toBe(full);
    const c = segmentNamed(plan, "cmdline");
    expect(c.mem).toBe(LOONGARCH_KEXEC_CMDLINE_PHYS);
    // COMMAND_LINE_SIZE bytes, NUL-padded (machine_kexec_prepare copies that many from a "kexec…" segment)
    expect(c.bytes.length).toBe(4096);
    expect(new TextDecoder().decode(c.bytes.subarray(0, full.length))).toBe(full);
    expect(c.bytes.subarray(full.length).every((b) => b === 0)).toBe(true);
    expect(plan.entry).toEqual({ pc: k.mem + h.kernel_entry - h.text_offset, registers: { a0: 1n, a1: LOONGARCH_CACHE_BASE | 0x108000n, a2: 0x1234000n } });
  });

  it("the initrd does not fit above the first hole: the kernel moves to the next one", async () => {
    const h = parseLoongarchHeader((await innermostImage(bytes(), "loongarch-image")).bytes);
    const lowEnd = up(h.text_offset, SZ_2M) + up(h.kernel_asize, PAGE) + 0x10000n;
    // the high range lies beyond the 32 GiB window of a kernel in the low one
    const map = memoryMap([{ start: 0n, size: lowEnd, type: "ram" }, { start: 0x900000000n, size: 256n * MiB, type: "ram" }]);
    const big = new Uint8Array(0x100000);
    const plan = await planLoongarch({ kernel: bytes(), initrd: big, memory: map });
    expect(segmentNamed(plan, "kernel").mem).toBe(0x900000000n);
    expect(segmentNamed(plan, "initrd").mem).toBe(0x900000000n + up(h.kernel_asize, PAGE));
    expect(plan.notes.join("\n")).toMatch(/tried 2 times/);
  });

  it("the plan table has the loongarch64 row, which needs a memory map", async () => {
    const row = planTableRow("loongarch64");
    expect(row?.layer).toBe("loongarch-image");
    expect(await rejectionCode(Promise.resolve().then((): Promise<unknown> => row!.plan({ kernel: bytes() })))).toBe("bad-argument");
    const p = await row!.plan({ kernel: bytes(), memory: ram });
    expect(p.segments.map((s) => s.name)).toEqual(["kernel", "cmdline"]);
  });

  it("refusals: a command line past COMMAND_LINE_SIZE, no room", async () => {
    expect(await rejectionCode(planLoongarch({ kernel: bytes(), cmdline: "x".repeat(4090), memory: ram }))).toBe("plan-refused");
    expect(await rejectionCode(planLoongarch({ kernel: bytes(), memory: memoryMap([{ start: 0n, size: 8n * MiB, type: "ram" }]) }))).toBe("plan-no-hole");
  });

  it("a kernel_asize of 0 in the inner image: plan-refused", async () => {
    const inner = (await innermostImage(bytes(), "loongarch-image")).bytes.slice();
    new DataView(inner.buffer, inner.byteOffset).setBigUint64(0x10, 0n, true);
    expect(await rejectionCode(planLoongarch({ kernel: inner, memory: ram }))).toBe("plan-refused");
  });

  it("hostile header values give a KimageError with a stable code, never a RangeError", async () => {
    const base = (await innermostImage(bytes(), "loongarch-image")).bytes;
    const cases: Array<[number, bigint, string]> = [
      [0x10, 0xffffffffffffffffn, "plan-no-hole"], // kernel_asize 2^64-1
      [0x18, 0xfffffffffff00000n, "plan-refused"], // text_offset past the entry
      [0x08, 0xffffffffffffffffn, "plan-refused"], // kernel_entry outside the image
      [0x10, 0x1000n, "plan-refused"], // kernel_asize below the file (bufsz > memsz)
    ];
    for (const [at, v, code] of cases) {
      const b = base.slice();
      new DataView(b.buffer, b.byteOffset).setBigUint64(at, v, true);
      expect(await rejectionCode(planLoongarch({ kernel: b, memory: ram })), `0x${at.toString(16)} = 0x${v.toString(16)}`).toBe(code);
    }
  });
});
