// The arm (armhf) plan: kexec-tools' zImage_arm_load placement computed by
// hand from the real Debian zImages' own headers (ZIMAGE_TAG_KRNL_SIZE, the
// appended size), the /chosen edits, the entry registers, and refusals of
// broken images with stable codes.
import { describe, expect, it } from "vitest";
import { getString, getU64, findNode, parseFdt } from "../../src/fdt/index.js";
import { parseZImage } from "../../src/formats/zimage/format.js";
import { ARM_TEXT_OFFSET, ARM_ZIMAGE_STACK_MALLOC, planArm } from "../../src/plan/arch/arm.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { planTableRow } from "../../src/plan/table.js";
import { firstKernelDtb, rejectionCode, segmentNamed } from "../support/plan-builders.js";
import { readBytes, requireReal } from "../support/real.js";

const MiB = 0x100000n;
const RAM = 0x40000000n;
const PAGE = 0x1000n;
const up = (x: bigint) => ((x + PAGE - 1n) / PAGE) * PAGE;

const kernels = requireReal("armhf zImage", (f) => f.arch === "armhf" && f.kind === "kernel");
const dtb = () => firstKernelDtb({ ram: { start: RAM, size: 1024n * MiB }, compatible: "linux,dummy-virt", bootargs: "old" });
const initrd = new Uint8Array(0x2345).fill(7);

describe.skipIf(kernels.length === 0)("arm plan of the real Debian zImages", () => {
  for (const k of kernels) {
    it(`${k.suite}: kexec-tools' placement, /chosen, entry`, async () => {
      const bytes = readBytes(k.abs);
      const zi = parseZImage(bytes);
      expect(zi.krnlSize, "the zImage carries ZIMAGE_TAG_KRNL_SIZE").not.toBeNull();
      const reserved = { start: RAM, size: 2n * MiB };
      const plan = await planArm({ kernel: bytes, initrd, cmdline: "console=ttyAMA0 x=1", dtb: dtb(), exclude: [reserved] });
      expect(plan.arch).toBe("arm");
      expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb"]);
      const kernel = segmentNamed(plan, "kernel");
      // base: the lowest page above the exclusion; kernel_base = base + TEXT_OFFSET (the tag's, 0x8000 without it)
      const textOffset = BigInt(zi.krnlSize?.text_offset ?? Number(ARM_TEXT_OFFSET));
      expect(kernel.mem).toBe(RAM + 2n * MiB + textOffset);
      const size = zi.end - zi.start;
      expect(kernel.bytes.length).toBe(size);
      expect(kernel.memsz).toBe(up(BigInt(size) + 4n));
      // kexec_arm_image_size = max(edata + bss, edata + len + 0x11000)
      const edata = BigInt(zi.payload?.uncompressedSize ?? 0);
      const bss = BigInt(zi.krnlSize?.bss_size ?? 0);
      const len = BigInt(size) + ARM_ZIMAGE_STACK_MALLOC;
      const room = edata + bss > edata + len ? edata + bss : edata + len;
      expect(plan.bootParams.image_size).toBe(room);
      const ird = segmentNamed(plan, "initrd");
      expect(ird.mem).toBe(kernel.mem + up(room));
      const d = segmentNamed(plan, "dtb");
      expect(d.mem).toBe(((ird.mem + BigInt(initrd.length) + PAGE) / PAGE) * PAGE);
      expect(plan.entry).toEqual({ pc: kernel.mem, registers: { r0: 0n, r1: 0xffffffffn, r2: d.mem } });
      // the decompressor's RAM base (128 MiB-aligned) + TEXT_OFFSET
      expect(plan.bootParams.decompressedAt).toBe(RAM + textOffset);
      const out = parseFdt(d.bytes);
      const chosen = findNode(out, "/chosen");
      expect(chosen && getString(chosen, "bootargs")).toBe("console=ttyAMA0 x=1");
      expect(chosen && getU64(chosen, "linux,initrd-start")).toBe(ird.mem);
      expect(chosen && getU64(chosen, "linux,initrd-end")).toBe(ird.mem + BigInt(initrd.length));
      expect(out.reservations).toContainEqual({ address: ird.mem, size: BigInt(initrd.length) });
    });
  }

  it("the plan table has the arm row, and it needs the device tree", async () => {
    const row = planTableRow("arm");
    expect(row?.layer).toBe("zimage");
    expect(await rejectionCode(Promise.resolve().then((): Promise<unknown> => row!.plan({ kernel: readBytes(kernels[0]!.abs) })))).toBe("bad-argument");
    const p = await row!.plan({ kernel: readBytes(kernels[0]!.abs), dtb: dtb() });
    expect(p.segments.map((s) => s.name)).toEqual(["kernel", "dtb"]);
  });

  it("no room below 4 GiB: plan-no-hole", async () => {
    const small = memoryMap([{ start: RAM, size: 4n * MiB, type: "ram" }]);
    expect(await rejectionCode(planArm({ kernel: readBytes(kernels[0]!.abs), dtb: dtb(), memory: small }))).toBe("plan-no-hole");
    const high = memoryMap([{ start: 0x100000000n, size: 1024n * MiB, type: "ram" }]);
    expect(await rejectionCode(planArm({ kernel: readBytes(kernels[0]!.abs), dtb: dtb(), memory: high }))).toBe("plan-no-hole");
  });

  it("a zImage whose header claims more than the file: plan-refused", async () => {
    const b = readBytes(kernels[0]!.abs).slice();
    const dv = new DataView(b.buffer, b.byteOffset);
    dv.setUint32(0x2c, dv.getUint32(0x2c, true) + 0x1000, true);
    expect(await rejectionCode(planArm({ kernel: b, dtb: dtb() }))).toBe("plan-refused");
  });

  it("no extension table: kexec-tools' \"maximum kernel compression ratio is 4\" and TEXT_OFFSET 0x8000", async () => {
    const b = readBytes(kernels[0]!.abs).slice();
    new DataView(b.buffer, b.byteOffset).setUint32(0x34, 0, true); // magic2 gone: no table, no tag
    // no exclusion: with TEXT_OFFSET 0x8000 the decompressor writes from RAM + 0x4000 (its page directory)
    const plan = await planArm({ kernel: b, initrd, dtb: dtb() });
    const zi = parseZImage(b);
    const len = BigInt(zi.end - zi.start) + ARM_ZIMAGE_STACK_MALLOC;
    expect(plan.bootParams.image_size).toBe(len * 5n);
    const kernel = segmentNamed(plan, "kernel");
    expect(kernel.mem).toBe(RAM + ARM_TEXT_OFFSET);
    expect(plan.bootParams.decompressedAt).toBe(kernel.mem);
    expect(segmentNamed(plan, "initrd").mem).toBe(kernel.mem + up(len * 5n));
  });

  it("a hostile TEXT_OFFSET near 4 GiB: plan-no-hole, not a wrap", async () => {
    const b = readBytes(kernels[0]!.abs).slice();
    const at = parseZImage(b).tags[0]!.offset + 16;
    new DataView(b.buffer, b.byteOffset).setUint32(at, 0xfffff000, true);
    expect(await rejectionCode(planArm({ kernel: b, dtb: dtb() }))).toBe("plan-no-hole");
  });

  it("not a kernel at all: unknown-format", async () => {
    expect(await rejectionCode(planArm({ kernel: new Uint8Array(4096), dtb: dtb() }))).toBe("unknown-format");
  });

  it("a TEXT_OFFSET that is not page-aligned, or whose decompressed kernel would hit an excluded range: plan-refused", async () => {
    const b = readBytes(kernels[0]!.abs).slice();
    const zi = parseZImage(b);
    const at = (zi.krnlSize ? zi.tags[0]!.offset : 0) + 16;
    const dv = new DataView(b.buffer, b.byteOffset);
    dv.setUint32(at, 0x8100, true);
    expect(await rejectionCode(planArm({ kernel: b, dtb: dtb() }))).toBe("plan-refused");
    // the decompressor writes below the zImage (RAM base + TEXT_OFFSET): an exclusion there refuses the plan
    const k = readBytes(kernels[0]!.abs);
    expect(await rejectionCode(planArm({ kernel: k, dtb: dtb(), exclude: [{ start: RAM, size: 0x300000n }] }))).toBe("plan-refused");
  });
});
