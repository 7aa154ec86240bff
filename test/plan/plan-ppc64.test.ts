// The ppc64 plan on the real Debian ppc64el vmlinux files, with a device
// tree shaped like QEMU pseries' (1 GiB at 0): kernel at the ELF's physical
// address, initrd and tree below the RMA, /chosen and the reservations, and
// the entry registers of kexec-tools' v2wrap.S.
import { describe, expect, it } from "vitest";
import { planPpc64 } from "../../src/plan/arch/ppc64.js";
import { parseFdt, getU64, findNode, getProp } from "../../src/fdt/index.js";
import { isKimageError } from "../../src/core/errors.js";
import { readBytes, requireReal } from "../support/real.js";
import { firstKernelDtb } from "../support/plan-builders.js";

const kernels = requireReal("ppc64el vmlinux", (f) => f.arch === "ppc64el" && f.kind === "kernel");

describe.skipIf(kernels.length === 0)("ppc64 plan", () => {
  const path = kernels[0]?.abs ?? "";
  const dtb = firstKernelDtb({ ram: { start: 0n, size: 1n << 30n }, bootargs: "old" });

  it("places the vmlinux at p_paddr, the initrd and the tree below the RMA, and sets r3/r4/r5", async () => {
    const initrd = new Uint8Array(70000).fill(1);
    const plan = await planPpc64({ kernel: readBytes(path), initrd, cmdline: "console=hvc0 kimage=1", dtb });
    expect(plan.segments.map((s) => s.name)).toEqual(["PT_LOAD[0]", "initrd", "dtb"]);
    const [k, i, d] = plan.segments;
    expect(k?.mem).toBe(0n);
    expect(plan.entry.pc).toBe(0n);
    expect(plan.entry.registers).toEqual({ r3: d?.mem, r4: 0n, r5: 0n });
    expect((i?.mem ?? 1n) >= (k?.mem ?? 0n) + (k?.memsz ?? 0n)).toBe(true);
    expect((d?.mem ?? 0n) + (d?.memsz ?? 0n) <= 1n << 30n).toBe(true);
    expect((d?.mem ?? 1n) % 0x10000n).toBe(0n);
    const fdt = parseFdt(d?.bytes ?? new Uint8Array());
    const chosen = findNode(fdt, "/chosen");
    expect(chosen).toBeDefined();
    if (!chosen) return;
    expect(new TextDecoder().decode(getProp(chosen, "bootargs")?.value)).toBe("console=hvc0 kimage=1\0");
    expect(getU64(chosen, "linux,initrd-start")).toBe(i?.mem);
    expect(getU64(chosen, "linux,initrd-end")).toBe((i?.mem ?? 0n) + 70000n);
    expect(fdt.reservations).toContainEqual({ address: i?.mem, size: 70000n });
    expect(fdt.reservations).toContainEqual({ address: d?.mem, size: BigInt(d?.bytes.length ?? 0) });
  });

  it("keeps every buffer below a given RMA size, and refuses when none fits", async () => {
    const plan = await planPpc64({ kernel: readBytes(path), initrd: new Uint8Array(100), dtb, rmaSize: 0x8000000n });
    for (const s of plan.segments) expect(s.mem + s.memsz <= 0x8000000n).toBe(true);
    // Room above the kernel for the initrd's one page but not for the tree: plan-no-hole; below the kernel's end: the same.
    const end = plan.segments[0] ? plan.segments[0].mem + plan.segments[0].memsz : 0n;
    const codeFor = async (rmaSize: bigint): Promise<string> => {
      try {
        await planPpc64({ kernel: readBytes(path), initrd: new Uint8Array(100), dtb, rmaSize });
      } catch (e) {
        return isKimageError(e) ? e.code : String(e);
      }
      return "";
    };
    expect(await codeFor(end + 0x10000n)).toBe("plan-no-hole");
    expect(await codeFor(end - 0x10000n)).toBe("plan-no-hole");
  });

  it("loadAbove (the running kernel's __pa(_end)): the kernel moves to the lowest hole above it, the rest above its linked extent too", async () => {
    const initrd = new Uint8Array(70000).fill(1);
    const base = await planPpc64({ kernel: readBytes(path), initrd, cmdline: "x", dtb });
    const above = 0x287f000n; // not 64 KiB-aligned: the kernel goes to the next 64 KiB boundary
    const plan = await planPpc64({ kernel: readBytes(path), initrd, cmdline: "x", dtb, loadAbove: above });
    const [k0] = base.segments;
    const [k, i, d] = plan.segments;
    expect(k?.mem).toBe((above + 0xffffn) & ~0xffffn);
    expect(Buffer.compare(k?.bytes ?? new Uint8Array(), k0?.bytes ?? new Uint8Array(1))).toBe(0);
    expect(k?.memsz).toBe(k0?.memsz);
    // entry and r4 move with the image; r3 is the placed tree
    expect(plan.entry.pc).toBe(k?.mem);
    expect(plan.entry.registers).toEqual({ r3: d?.mem, r4: k?.mem, r5: 0n });
    const floor = (k0?.memsz ?? 0n) > above ? (k0?.memsz ?? 0n) : above;
    expect(plan.bootParams.loadAbove).toBe(floor);
    for (const s of [i, d]) expect((s?.mem ?? 0n) >= floor, s?.name).toBe(true);
    for (const s of plan.segments) expect(s.mem >= above && s.mem + s.memsz <= 1n << 30n, s.name).toBe(true);
    expect(plan.notes.join("\n")).toMatch(/__pa\(_end\)/);
    // Today's default is untouched: without loadAbove, no loadAbove in bootParams and the kernel at p_paddr.
    expect(base.bootParams.loadAbove).toBeUndefined();
    expect(k0?.mem).toBe(0n);
  });

  it("loadAbove with no room below the RMA: plan-no-hole", async () => {
    await expect(planPpc64({ kernel: readBytes(path), dtb, loadAbove: 0x3f000000n })).rejects.toMatchObject({ code: "plan-no-hole" });
  });
});
