// The riscv64 plan: placement rules computed by hand on a small map
// (kexec_image.c image_load + machine_kexec_file.c load_extra_segments),
// the /chosen edits, refusals, seeded determinism and the retry loop, the
// real Debian Image, and the boot harness's hand-encoded trampoline.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isKimageError } from "../../src/core/errors.js";
import { ensureNode, findNode, getString, getU64, getProp, parseFdt, setU64 } from "../../src/fdt/index.js";
import { checkSegments, memoryMap, type MemoryMap } from "../../src/plan/core/memory.js";
import { planRiscv, RISCV_MAX_PLACEMENT_TRIES, type RiscvPlanInput } from "../../src/plan/arch/riscv.js";
import { fakeRiscvImage, firstKernelDtb, rejectionCode, segmentNamed } from "../support/plan-builders.js";
import { readBytes, requireReal } from "../support/real.js";
import { riscvTrampoline } from "../support/riscv.js";

const MiB = 0x100000n;
const RAM = 0x80000000n;

/** A RISC-V Image: header + `length` bytes. */
const image = (over: { image_size?: bigint; flags?: bigint; text_offset?: bigint; length?: number } = {}): Uint8Array => fakeRiscvImage(over);

/** A first kernel's DTB: 256 MiB at 0x80000000, an old initrd in /chosen (reserved), a stale kaslr-seed. */
function firstDtb(): Uint8Array {
  return firstKernelDtb({
    ram: { start: RAM, size: 256n * MiB },
    compatible: "riscv-virtio",
    bootargs: "old",
    edit: (fdt) => {
      const chosen = ensureNode(fdt, "/chosen");
      setU64(chosen, "linux,initrd-start", 0x88000000n);
      setU64(chosen, "linux,initrd-end", 0x88001234n);
      setU64(chosen, "kaslr-seed", 7n);
      fdt.reservations.push({ address: 0x88000000n, size: 0x1234n });
    },
  });
}

const map256: MemoryMap = memoryMap([{ start: RAM, size: 256n * MiB, type: "ram" }]);
const FIRMWARE = { start: RAM, size: 2n * MiB };
const initrd = new Uint8Array(5000).fill(0x5a);

function base(over: Partial<RiscvPlanInput> = {}): RiscvPlanInput {
  return { kernel: image(), dtb: firstDtb(), initrd, cmdline: "console=ttyS0 root=/dev/vda", memory: map256, exclude: [FIRMWARE], ...over };
}

const seg = segmentNamed;

const code = rejectionCode;

describe("planRiscv: the kernel's rules by hand", () => {
  it("kernel text_offset-aligned bottom-up, initrd and dtb page-aligned top-down above it", async () => {
    const plan = await planRiscv(base());
    expect(plan.arch).toBe("riscv64");
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb"]);
    // kernel: the lowest multiple of text_offset (2 MiB) past the 2 MiB firmware exclusion, memsz = image_size.
    const k = seg(plan, "kernel");
    expect(k.mem).toBe(0x80200000n);
    expect(k.memsz).toBe(0x1500000n);
    expect(k.bytes.length).toBe(8192);
    // initrd: 5000 bytes -> 0x2000, top-down from the end of RAM 0x90000000.
    const i = seg(plan, "initrd");
    expect(i.mem).toBe(0x90000000n - 0x2000n);
    expect(i.memsz).toBe(0x2000n);
    // dtb: top-down right below the initrd (it is smaller than a page).
    const d = seg(plan, "dtb");
    expect(d.bytes.length).toBeLessThan(4096);
    expect(d.mem).toBe(0x8fffe000n - 0x1000n);
    expect(plan.entry).toEqual({ pc: 0x80200000n, registers: { a0: 0n, a1: 0x8fffd000n } });
    expect(plan.cmdline).toBe("console=ttyS0 root=/dev/vda");
    expect(checkSegments(plan.segments, map256)).toEqual([]);
    expect(plan.notes.join("\n")).toMatch(/text_offset 0x200000 \(the load alignment/);
  });

  it("an exclusion under the first fit pushes the kernel to the next 2 MiB boundary past it", async () => {
    const plan = await planRiscv(base({ exclude: [FIRMWARE, { start: 0x80a00000n, size: 0x1000n }] }));
    expect(plan.entry.pc).toBe(0x80c00000n);
  });

  it("hart id goes to a0; no initrd: no initrd segment and no initrd properties", async () => {
    const { initrd: _drop, ...rest } = base({ hartId: 3n });
    void _drop;
    const plan = await planRiscv(rest);
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "dtb"]);
    expect(plan.entry.registers.a0).toBe(3n);
    // With no initrd the dtb takes the top page.
    expect(seg(plan, "dtb").mem).toBe(0x90000000n - 0x1000n);
    const chosen = findNode(parseFdt(seg(plan, "dtb").bytes), "/chosen");
    expect(chosen && getProp(chosen, "linux,initrd-start")).toBeUndefined();
  });

  it("the dtb's /chosen is edited as drivers/of/kexec.c does", async () => {
    const plan = await planRiscv(base());
    const fdt = parseFdt(seg(plan, "dtb").bytes);
    const chosen = findNode(fdt, "/chosen");
    if (!chosen) throw new Error("no /chosen");
    expect(getString(chosen, "bootargs")).toBe("console=ttyS0 root=/dev/vda");
    const i = seg(plan, "initrd");
    expect(getU64(chosen, "linux,initrd-start")).toBe(i.mem);
    expect(getU64(chosen, "linux,initrd-end")).toBe(i.mem + 5000n);
    expect(getProp(chosen, "linux,booted-from-kexec")).toBeDefined();
    // No seed: no kaslr-seed / rng-seed; the old initrd's reservation is gone, the new one is there.
    expect(getProp(chosen, "kaslr-seed")).toBeUndefined();
    expect(fdt.reservations).toEqual([{ address: i.mem, size: 5000n }]);
  });

  it("the memory map defaults to the device tree's", async () => {
    const { memory: _m, ...rest } = base();
    void _m;
    const plan = await planRiscv(rest);
    expect(plan.entry.pc).toBe(0x80200000n);
    // The first kernel's /memreserve/ of its old initrd carves the RAM.
    expect(plan.bootParams.ram).toEqual([
      { start: RAM, size: 0x8000000n },
      { start: 0x88001234n, size: 0x90000000n - 0x88001234n },
    ]);
  });
});

describe("planRiscv: refusals", () => {
  it("image_load's header checks", async () => {
    expect(await code(planRiscv(base({ kernel: image({ image_size: 0n }) })))).toBe("plan-refused");
    expect(await code(planRiscv(base({ kernel: image({ flags: 1n }) })))).toBe("plan-refused");
  });

  it("text_offset must be a power of two, and at least 2 MiB unless forced", async () => {
    expect(await code(planRiscv(base({ kernel: image({ text_offset: 0x300000n }) })))).toBe("plan-refused");
    expect(await code(planRiscv(base({ kernel: image({ text_offset: 0x1000n }) })))).toBe("plan-refused");
    // Forced: the kernel's own rule, buf_align = max(text_offset, PAGE_SIZE): the first free page.
    const plan = await planRiscv(base({ kernel: image({ text_offset: 0x1000n }), force: true }));
    expect(plan.entry.pc).toBe(0x80200000n + 0n);
    const plan2 = await planRiscv(base({ kernel: image({ text_offset: 0x1000n }), force: true, exclude: [{ start: RAM, size: 0x3000n }] }));
    expect(plan2.entry.pc).toBe(RAM + 0x3000n);
  });

  it("a file longer than image_size (bufsz > memsz)", async () => {
    expect(await code(planRiscv(base({ kernel: image({ image_size: 0x1000n, length: 8192 }) })))).toBe("plan-refused");
  });

  it("no room: plan-no-hole", async () => {
    expect(await code(planRiscv(base({ memory: memoryMap([{ start: RAM, size: 0x1600000n, type: "ram" }]) })))).toBe("plan-no-hole");
  });

  it("not a RISC-V Image", async () => {
    expect(await code(planRiscv(base({ kernel: new Uint8Array(4096) })))).toBe("unknown-format");
  });

  it("more than half of RAM (sanity_check_segment_list)", async () => {
    const e = await planRiscv(base({ memory: memoryMap([{ start: RAM, size: 32n * MiB, type: "ram" }]), exclude: [] })).catch((x: unknown) => x);
    expect(isKimageError(e, "plan-refused") && e.message).toMatch(/exceed half of RAM/);
  });
});

describe("planRiscv: seeds", () => {
  it("the same seed gives the same plan; different seeds spread; every seeded plan keeps the rules", async () => {
    const a = await planRiscv(base({ seed: 42 }));
    const b = await planRiscv(base({ seed: 42 }));
    expect(a.segments.map((s) => s.mem)).toEqual(b.segments.map((s) => s.mem));
    expect(seg(a, "dtb").bytes).toEqual(seg(b, "dtb").bytes);
    const kernels = new Set<bigint>();
    for (let s = 0; s < 12; s++) {
      const p = await planRiscv(base({ seed: s }));
      const k = seg(p, "kernel");
      kernels.add(k.mem);
      expect(k.mem % 0x200000n).toBe(0n);
      expect(k.mem).toBeGreaterThanOrEqual(0x80200000n);
      for (const n of ["initrd", "dtb"]) {
        const x = seg(p, n);
        expect(x.mem % 0x1000n).toBe(0n);
        expect(x.mem).toBeGreaterThanOrEqual(k.mem + k.memsz); // "kbuf.buf_min = kernel_start + kernel_len"
      }
      expect(checkSegments(p.segments, map256)).toEqual([]);
      const chosen = findNode(parseFdt(seg(p, "dtb").bytes), "/chosen");
      expect(chosen && getProp(chosen, "kaslr-seed")?.value.length).toBe(8);
      expect(chosen && getProp(chosen, "rng-seed")?.value.length).toBe(128);
    }
    expect(kernels.size).toBeGreaterThan(6);
  });

  it("a draw that leaves no room above the kernel is drawn again (deterministically)", async () => {
    // 64 MiB of RAM, a 21 MiB kernel and a 10 MiB initrd: 5 of the 22 2 MiB-aligned kernel positions
    // (0x82200000 and up) leave less than 10 MiB + a page above the kernel.
    const small = memoryMap([{ start: RAM, size: 64n * MiB, type: "ram" }]);
    const big = new Uint8Array(10 * 1024 * 1024);
    const redrawn: number[] = [];
    for (let s = 0; s < 40; s++) {
      const p = await planRiscv(base({ memory: small, exclude: [], seed: s, initrd: big }));
      if (p.notes.some((n) => /placement drawn \d+ times/.test(n))) redrawn.push(s);
      expect(checkSegments(p.segments, small)).toEqual([]);
    }
    expect(redrawn.length).toBeGreaterThan(0);
    const again = await planRiscv(base({ memory: small, exclude: [], seed: redrawn[0] ?? 0, initrd: big }));
    const first = await planRiscv(base({ memory: small, exclude: [], seed: redrawn[0] ?? 0, initrd: big }));
    expect(seg(first, "kernel").mem).toBeLessThanOrEqual(0x82000000n);
    expect(again.segments.map((s) => s.mem)).toEqual(first.segments.map((s) => s.mem));
    expect(RISCV_MAX_PLACEMENT_TRIES).toBe(64);
  });
});

const real = requireReal("trixie riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel" && f.suite === "trixie");

describe.skipIf(real.length === 0)("planRiscv on the real Debian Image (PE stub + RISC-V Image)", () => {
  it("plans the whole PE file as the Image, memsz image_size, with QEMU virt's exclusions", async () => {
    const plan = await planRiscv(
      base({
        kernel: readBytes(real[0]?.abs ?? ""),
        memory: memoryMap([{ start: RAM, size: 1024n * MiB, type: "ram" }]),
        exclude: [{ start: RAM, size: 4n * MiB }, { start: 0x82200000n, size: 0x10000n }, { start: 0xbfe00000n, size: MiB }],
      }),
    );
    const k = seg(plan, "kernel");
    // Expectations from the file itself (a Debian point release changes its size): the
    // whole file is the buffer, and memsz is the header's image_size (le64 at 0x10,
    // Documentation/arch/riscv/boot-image-header.rst) rounded up to a page.
    const file = readBytes(real[0]?.abs ?? "");
    const imageSize = new DataView(file.buffer, file.byteOffset, file.byteLength).getBigUint64(0x10, true);
    const memsz = (imageSize + 0xfffn) & ~0xfffn;
    expect(k.bytes.length).toBe(file.length);
    expect(k.memsz).toBe(memsz);
    // The lowest 2 MiB boundary past the 4 MiB exclusion, unless the Image would then
    // cover OpenSBI's FDT copy at 0x82200000: then the next 2 MiB boundary past that.
    expect(k.mem).toBe(0x80400000n + memsz > 0x82200000n ? 0x82400000n : 0x80400000n);
    expect(plan.bootParams.text_offset).toBe(0x200000n);
    expect(plan.notes[0]).toMatch(/pe → riscv-image/);
    // initrd and dtb: top-down, below QEMU's FDT ROM at 0xbfe00000..0xbff00000, i.e. in the last MiB.
    expect(seg(plan, "initrd").mem).toBe(0xc0000000n - 0x2000n);
  });
});

describe("the boot harness's riscv64 trampoline", () => {
  it("encodes auipc/ld/ld/jr with the two addresses after it", () => {
    const t = riscvTrampoline(0x8fffd000n, 0x80200000n);
    const dv = new DataView(t.buffer);
    expect([0, 4, 8, 12].map((o) => dv.getUint32(o, true).toString(16).padStart(8, "0"))).toEqual(["00000297", "0102b583", "0182b303", "00030067"]);
    expect(dv.getBigUint64(16, true)).toBe(0x8fffd000n);
    expect(dv.getBigUint64(24, true)).toBe(0x80200000n);
  });

  const objdump = spawnSync("objdump", ["--help"], { encoding: "utf8" });
  it.skipIf(objdump.error !== undefined || !/riscv:rv64/.test(objdump.stdout ?? ""))("objdump agrees", () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-rvt-"));
    const file = join(dir, "t.bin");
    writeFileSync(file, riscvTrampoline(0n, 0n).subarray(0, 16));
    const out = spawnSync("objdump", ["-D", "-b", "binary", "-m", "riscv:rv64", file], { encoding: "utf8" }).stdout;
    const insns = [...out.matchAll(/^\s+[0-9a-f]+:\s+[0-9a-f]{8}\s+(.+)$/gm)].map((m) => (m[1] ?? "").replace(/\s*#.*$/, "").replace(/\s+/g, " ").trim());
    expect(insns).toEqual(["auipc t0,0x0", "ld a1,16(t0)", "ld t1,24(t0)", "jr t1"]);
  });
});
