// Boot proof: a real Debian s390x kernel boots in QEMU from a kimage plan,
// without QEMU's `-kernel` (which would write the parmarea itself): the
// plan's segments are placed with `-device loader` (the kernel, with the
// parmarea the plan wrote, at 0; the initrd after it), and a 16-byte
// trampoline given as `-bios` branches to the plan's entry. The console must
// show exactly the plan's command line and the initramfs unpacked from the
// plan's address, with the kernel running /init from it.
import { describe, expect, it } from "vitest";
import { planS390 } from "../../src/plan/arch/s390.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { tinyInitramfs } from "../support/qemu.js";
import { bootQemuS390, haveQemuS390, s390FirmwareBase } from "../support/qemu-s390.js";
import { readBytes, requireReal } from "../support/real.js";

const MEM_MIB = 512;
const kernels = requireReal("s390x kernel", (f) => f.arch === "s390x" && f.kind === "kernel");
const qemu = haveQemuS390();

describe.skipIf(!qemu || kernels.length === 0)("s390x plan boots a real Debian kernel in QEMU (no -kernel)", () => {
  for (const k of kernels) {
    it(`${k.suite}`, async () => {
      const cmdline = `console=ttysclp0 panic=-1 kimage.plan=s390x-${k.suite}`;
      const fw = s390FirmwareBase(MEM_MIB);
      const plan = await planS390({
        kernel: readBytes(k.abs),
        initrd: tinyInitramfs(),
        cmdline,
        memory: memoryMap([{ start: 0n, size: BigInt(MEM_MIB) << 20n, type: "ram" }]),
        exclude: [{ start: fw, size: 0x200000n }],
      });
      const boot = await bootQemuS390({
        memMiB: MEM_MIB,
        blobs: plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })),
        entry: plan.entry.pc,
        timeoutMs: 120_000,
        until: /Kernel panic|Attempted to kill init/,
      });
      expect(boot.timedOut, boot.console.slice(-2000)).toBe(false);
      const log = boot.console;
      expect(log, "booted the plan's kernel").toMatch(/Linux version \S+-s390x/);
      const line = /Kernel command line: (.*)\r?\n/.exec(log);
      expect(line?.[1], "command line").toBe(cmdline);
      expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
      expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs|initrd overlaps/);
      expect(log, "ran /init from the initramfs").toMatch(/Run \/init as init process/);
      expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd"]);
    });
  }
});
