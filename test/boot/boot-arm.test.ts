// Boot proof: the real Debian armhf (armmp) zImages boot in QEMU `-M virt`
// from a kimage arm plan, without QEMU's `-kernel`: every segment is placed
// with `-device loader` at the plan's address, and a 28-byte A32 trampoline
// sets the plan's entry registers (r0 = 0, r1 = ~0, r2 = the DTB) and
// branches to the zImage. QEMU's own DTB (dumpdtb) is the "first kernel's"
// device tree. The console must show exactly the plan's command line, the
// initramfs unpacked from the plan's address, and the kernel running /init
// from it.
//
// The trampoline (little-endian A32; `ldr rX, [pc, #imm]` reads PC + 8 + imm):
// ```
//   0: ldr r2, [pc, #12]   ; r2 = the word at 20 (DTB)
//   4: ldr r3, [pc, #12]   ; r3 = the word at 24 (entry)
//   8: mov r0, #0
//  12: mvn r1, #0          ; r1 = 0xffffffff
//  16: bx  r3
//  20: .word dtb
//  24: .word entry
// ```
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planArm, type ArmPlan } from "../../src/plan/arch/arm.js";
import { memoryMap, type Range } from "../../src/plan/core/memory.js";
import { loaderArgs, runQemu, tinyInitramfs } from "../support/qemu.js";
import { readBytes, requireReal } from "../support/real.js";

const RAM_START = 0x40000000n;
const MEM_MIB = 1024;
/** QEMU puts its own DTB in the first MiB of RAM when there is no -kernel; the trampoline sits in the second MiB. */
const RESERVED: Range = { start: RAM_START, size: 0x200000n };
const TRAMPOLINE = RAM_START + 0x100000n;

const kernels = requireReal("armhf zImage", (f) => f.arch === "armhf" && f.kind === "kernel");
const qemu = spawnSync("qemu-system-arm", ["--version"], { stdio: "ignore" }).status === 0;

/** The 28-byte A32 trampoline above: r0 = 0, r1 = ~0, r2 = dtb, branch to entry. */
export function armTrampoline(dtb: bigint, entry: bigint): Uint8Array {
  const b = new Uint8Array(28);
  const dv = new DataView(b.buffer);
  [0xe59f200c, 0xe59f300c, 0xe3a00000, 0xe3e01000, 0xe12fff13].forEach((w, i) => dv.setUint32(i * 4, w, true));
  dv.setUint32(20, Number(dtb), true);
  dv.setUint32(24, Number(entry), true);
  return b;
}

function virtDtb(): Uint8Array {
  const out = join(mkdtempSync(join(tmpdir(), "kimage-armdtb-")), "virt.dtb");
  const r = spawnSync("qemu-system-arm", ["-M", `virt,dumpdtb=${out}`, "-m", String(MEM_MIB), "-nographic"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dumpdtb failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

async function planAndBoot(kernelPath: string, cmdline: string): Promise<{ plan: ArmPlan; log: string; timedOut: boolean }> {
  const plan = await planArm({
    kernel: readBytes(kernelPath),
    initrd: tinyInitramfs(),
    cmdline,
    dtb: virtDtb(),
    memory: memoryMap([{ start: RAM_START, size: BigInt(MEM_MIB) << 20n, type: "ram" }]),
    exclude: [RESERVED],
  });
  const { r1, r2 } = plan.entry.registers;
  expect(plan.entry.registers.r0).toBe(0n);
  expect(r1).toBe(0xffffffffn);
  const dir = mkdtempSync(join(tmpdir(), "kimage-armboot-"));
  const blobs = [...plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })), { name: "trampoline", bytes: armTrampoline(r2 as bigint, plan.entry.pc), addr: TRAMPOLINE }];
  const args = ["-M", "virt", "-m", String(MEM_MIB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", ...loaderArgs(dir, blobs), "-device", `loader,addr=0x${TRAMPOLINE.toString(16)},cpu-num=0`];
  const boot = await runQemu("qemu-system-arm", args, { timeoutMs: 150_000, until: /Kernel panic|Attempted to kill init/ });
  return { plan, log: boot.console, timedOut: boot.timedOut };
}

describe.skipIf(!qemu || kernels.length === 0)("arm plan boots the real Debian armmp zImages in QEMU (no -kernel)", () => {
  for (const k of kernels) {
    it(`${k.suite}`, async () => {
      const cmdline = `console=ttyAMA0 panic=-1 kimage.arm=${k.suite}`;
      const { plan, log, timedOut } = await planAndBoot(k.abs, cmdline);
      expect(timedOut, log.slice(-2000)).toBe(false);
      const line = /Kernel command line: (.*)\r?\n/.exec(log);
      expect(line?.[1], log.slice(-2000)).toBe(cmdline);
      expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
      expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
      expect(log, "ran /init from the initramfs").toMatch(/Run \/init as init process/);
      expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb"]);
    }, 200_000);
  }
});
