// Boot proof: a real Debian ppc64el vmlinux boots in QEMU pseries from a
// kimage plan, without `-kernel` and without SLOF: the plan's segments are
// placed with `-device loader` (the kernel at its ELF physical address 0, the
// initrd, the edited device tree), and a small trampoline sets the plan's
// r3/r4/r5 and branches to its entry (test/support/qemu-ppc64.ts). QEMU's own
// pseries device tree is the "first kernel's". The console must show exactly
// the plan's command line and the initramfs unpacked from the plan's address,
// with the kernel running /init from it.
import { describe, expect, it } from "vitest";
import { planPpc64 } from "../../src/plan/arch/ppc64.js";
import { parseFdt } from "../../src/fdt/index.js";
import { tinyInitramfs } from "../support/qemu.js";
import { bootQemuPpc64, dumpPseriesDtb, haveQemuPpc64 } from "../support/qemu-ppc64.js";
import { readBytes, requireReal } from "../support/real.js";

const MEM_MIB = 1024;
/** QEMU writes its own device tree below the top of the RMA at every reset; the trampoline sits below that. */
const RESERVED = { start: 0x3f000000n, size: 0x1000000n };
const TRAMPOLINE = 0x3f000000n;

const kernels = requireReal("ppc64el vmlinux", (f) => f.arch === "ppc64el" && f.kind === "kernel");
const qemu = haveQemuPpc64();

describe.skipIf(!qemu || kernels.length === 0)("ppc64el plan boots a real Debian vmlinux in QEMU pseries (no -kernel, no SLOF)", () => {
  for (const k of kernels) {
    it(`${k.suite}`, async () => {
      const cmdline = `console=hvc0 panic=-1 kimage.plan=ppc64-${k.suite}`;
      const dtb = dumpPseriesDtb(MEM_MIB);
      const plan = await planPpc64({ kernel: readBytes(k.abs), initrd: tinyInitramfs(), cmdline, dtb, exclude: [RESERVED] });
      const r = plan.entry.registers;
      const boot = await bootQemuPpc64({
        memMiB: MEM_MIB,
        blobs: plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })),
        registers: { r3: r.r3 ?? -1n, r4: r.r4 ?? -1n, r5: r.r5 ?? -1n },
        entry: plan.entry.pc,
        trampoline: TRAMPOLINE,
        timeoutMs: 150_000,
        until: /Kernel panic|Attempted to kill init/,
      });
      expect(boot.timedOut, boot.console.slice(-2000)).toBe(false);
      const log = boot.console;
      expect(log, "booted the plan's kernel").toMatch(/Linux version \S+-powerpc64le/);
      const line = /Kernel command line: (.*)\r?\n/.exec(log);
      expect(line?.[1], "command line").toBe(cmdline);
      expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
      expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
      expect(log, "ran /init from the initramfs").toMatch(/Run \/init as init process/);
      // The plan's contract: r3 = the device tree it placed, r4 = the kernel base, r5 = 0; the tree reserves itself and the initrd.
      const dseg = plan.segments.find((s) => s.name === "dtb");
      const iseg = plan.segments.find((s) => s.name === "initrd");
      expect(r.r3).toBe(dseg?.mem);
      expect(r.r4).toBe(0n);
      expect(r.r5).toBe(0n);
      const fdt = parseFdt(dseg?.bytes ?? new Uint8Array());
      expect(fdt.reservations).toContainEqual({ address: dseg?.mem, size: BigInt(dseg?.bytes.length ?? 0) });
      expect(fdt.reservations).toContainEqual({ address: iseg?.mem, size: BigInt(iseg?.bytes.length ?? 0) });
    });
  }
});
