// Boot proof: the real Debian loong64 kernel (sid: pe → zboot → zstd → pe →
// loongarch-image) boots in QEMU `-M virt` from a kimage LoongArch plan,
// without firmware and without `-kernel`: every segment is placed with
// `-device loader` at the plan's address, and a 64-byte trampoline sets the
// plan's entry registers (a0, a1, a2) and jumps to the plan's entry.
//
// The plan's a2 is the first kernel's fw_arg2: the firmware's EFI system
// table. With no firmware, the harness plays that firmware: a 120-byte EFI
// system table (no runtime or boot services) whose one configuration table
// is DEVICE_TREE_GUID → QEMU's own device tree (dumpdtb) plus the /memory
// nodes QEMU 7.2 leaves to its firmware (low 256 MiB at 0, the rest at
// 0x90000000). The console must show exactly the plan's full command line
// (with the loader's "kexec_file initrd=…" prefix), the initramfs unpacked
// from the plan's address, and the kernel running /init from it.
//
// The trampoline (LoongArch64; `pcaddi rd, 0` reads its own address):
// ```
//   0: pcaddi $t0, 0
//   4: ld.d   $a0, $t0, 32
//   8: ld.d   $a1, $t0, 40
//  12: ld.d   $a2, $t0, 48
//  16: ld.d   $t1, $t0, 56
//  20: jirl   $zero, $t1, 0
//  24: nop; nop
//  32: .dword a0, a1, a2, pc
// ```
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureNode, parseFdt, serializeFdt, setProp, setString } from "../../src/fdt/index.js";
import { planLoongarch } from "../../src/plan/arch/loongarch.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { loaderArgs, runQemu, tinyInitramfs } from "../support/qemu.js";
import { readBytes, requireReal } from "../support/real.js";

const MiB = 0x100000n;
const MEM_MIB = 1024;
/** QEMU 7.2 loongarch virt: 256 MiB of low RAM at 0, the rest from 0x90000000. */
const LOW = { start: 0n, size: 256n * MiB };
const HIGH = { start: 0x90000000n, size: BigInt(MEM_MIB) * MiB - 256n * MiB };
/** The harness's "firmware" lives in the first 2 MiB, which the kernel keeps reserved ("Reserve the first 2MB"). */
const TRAMPOLINE = 0x100000n;
const SYSTAB = 0x110000n;
const FDT_AT = 0x120000n;

const kernels = requireReal("loong64 kernel", (f) => f.arch === "loong64" && f.kind === "kernel");
const qemu = spawnSync("qemu-system-loongarch64", ["--version"], { stdio: "ignore" }).status === 0;

/** The 64-byte trampoline above. */
function loongarchTrampoline(a0: bigint, a1: bigint, a2: bigint, pc: bigint): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  [0x1800000c, 0x28c08184, 0x28c0a185, 0x28c0c186, 0x28c0e18d, 0x4c0001a0, 0x03400000, 0x03400000].forEach((w, i) => dv.setUint32(i * 4, w, true));
  [a0, a1, a2, pc].forEach((v, i) => dv.setBigUint64(32 + 8 * i, v, true));
  return b;
}

const u64 = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v);
  return b;
};

/**
 * QEMU's device tree with what QEMU 7.2 leaves to its firmware (ACPI there):
 * the /memory nodes, and the CPU interrupt controller the kernel's
 * irq-loongarch-cpu.c binds ("loongson,cpu-interrupt-controller"; without it
 * the kernel stops with "IPI IRQ mapping failed").
 */
function virtDtb(): Uint8Array {
  const out = join(mkdtempSync(join(tmpdir(), "kimage-ladtb-")), "virt.dtb");
  const r = spawnSync("qemu-system-loongarch64", ["-M", `virt,dumpdtb=${out}`, "-m", String(MEM_MIB), "-nographic"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dumpdtb failed: ${r.stderr}`);
  const fdt = parseFdt(new Uint8Array(readFileSync(out)));
  for (const m of [LOW, HIGH]) {
    const node = ensureNode(fdt, `/memory@${m.start.toString(16)}`);
    setString(node, "device_type", "memory");
    setProp(node, "reg", new Uint8Array([...u64(m.start), ...u64(m.size)]));
  }
  const cpuic = ensureNode(fdt, "/cpuic");
  setString(cpuic, "compatible", "loongson,cpu-interrupt-controller");
  setProp(cpuic, "interrupt-controller", new Uint8Array(0));
  setProp(cpuic, "#interrupt-cells", new Uint8Array([0, 0, 0, 1]));
  return serializeFdt(fdt, { layout: "compact", compactStrings: true });
}

/** A 64-bit EFI system table (no services) with one configuration table: DEVICE_TREE_GUID → fdt. */
function efiSystemTable(at: bigint, fdt: bigint): Uint8Array {
  const b = new Uint8Array(120 + 24);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, 0x5453595320494249n, true); // EFI_SYSTEM_TABLE_SIGNATURE "IBI SYST"
  dv.setUint32(8, (2 << 16) | 70, true); // revision 2.70
  dv.setUint32(12, 120, true); // headersize
  dv.setBigUint64(104, 1n, true); // nr_tables
  dv.setBigUint64(112, at + 120n, true); // tables
  // DEVICE_TREE_GUID b1b621d5-f19c-41a5-830b-d9152c69aae0 (EFI byte order), then its table address
  b.set([0xd5, 0x21, 0xb6, 0xb1, 0x9c, 0xf1, 0xa5, 0x41, 0x83, 0x0b, 0xd9, 0x15, 0x2c, 0x69, 0xaa, 0xe0], 120);
  dv.setBigUint64(136, fdt, true);
  return b;
}

describe.skipIf(!qemu || kernels.length === 0)("LoongArch plan boots the real Debian loong64 kernel in QEMU (no firmware, no -kernel)", () => {
  it("boots", async () => {
    // i8042_init probes the legacy ports through the PCI I/O window, which nothing has mapped without firmware
    const cmdline = "console=ttyS0,115200 earlycon=uart,mmio,0x1fe001e0 panic=-1 initcall_blacklist=i8042_init kimage.loongarch=1";
    const plan = await planLoongarch({
      kernel: readBytes(kernels[0]!.abs),
      initrd: tinyInitramfs(),
      cmdline,
      memory: memoryMap([{ ...LOW, type: "ram" }, { ...HIGH, type: "ram" }]),
      exclude: [{ start: 0n, size: 2n * MiB }],
      efiBoot: 1n,
      systemTable: SYSTAB,
    });
    const { a0, a1, a2 } = plan.entry.registers as { a0: bigint; a1: bigint; a2: bigint };
    const dir = mkdtempSync(join(tmpdir(), "kimage-laboot-"));
    const blobs = [
      ...plan.segments.map((s) => ({ name: s.name, bytes: s.bytes, addr: s.mem })),
      { name: "trampoline", bytes: loongarchTrampoline(a0, a1, a2, plan.entry.pc), addr: TRAMPOLINE },
      { name: "systab", bytes: efiSystemTable(SYSTAB, FDT_AT), addr: SYSTAB },
      { name: "fdt", bytes: virtDtb(), addr: FDT_AT },
    ];
    const args = ["-M", "virt", "-m", String(MEM_MIB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", ...loaderArgs(dir, blobs), "-device", `loader,addr=0x${TRAMPOLINE.toString(16)},cpu-num=0`];
    const boot = await runQemu("qemu-system-loongarch64", args, { timeoutMs: 150_000, until: /Kernel panic|Attempted to kill init/ });
    const log = boot.console;
    expect(boot.timedOut, log.slice(-3000)).toBe(false);
    const line = /Kernel command line: (.*)\r?\n/.exec(log);
    // bootcmdline_init appends " " and the device tree's (empty) bootargs to what a1 pointed at
    expect(line?.[1]?.trimEnd(), log.slice(-3000)).toBe(plan.bootParams.fullCmdline);
    expect(log, "initramfs unpacked").toMatch(/Trying to unpack rootfs image as initramfs|Unpacking initramfs/);
    expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
    expect(log, "ran /init from the initramfs").toMatch(/Run \/init as init process/);
  }, 200_000);
});
