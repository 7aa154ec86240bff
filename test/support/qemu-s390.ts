/**
 * The s390x boot-proof harness: QEMU's s390-ccw-virtio machine started
 * without `-kernel`. Every plan segment is a `-device loader` blob; the CPU
 * is started by QEMU's IPL device, which (with no kernel) loads `-bios` as
 * an ELF relocated to `fwbase = (min(ram, 2 GiB) - 2 MiB) & ~0xffff`
 * (hw/s390x/ipl.c `s390_ipl_realize`) and starts it with the IPL PSW (64-bit
 * addressing, DAT off). Our `-bios` is a 16-byte trampoline that branches to
 * the plan's entry:
 * ```
 *   0: c4 18 00 00 00 04   lgrl %r1, 8(pc)   ; r1 = entry
 *   6: 07 f1               br   %r1
 *   8: .quad entry
 * ```
 * (`-device loader,cpu-num=0` cannot be used: the IPL CPU's PSW is set by
 * `s390_ipl_prepare_cpu` after the device resets.)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loaderArgs, runQemu, type BootResult, type LoaderBlob } from "./qemu.js";

/** Where QEMU relocates the -bios ELF for `memMiB` of RAM (hw/s390x/ipl.c: fwbase). */
export function s390FirmwareBase(memMiB: number): bigint {
  const ram = BigInt(memMiB) << 20n;
  const low = ram < 0x80000000n ? ram : 0x80000000n;
  return (low - 0x200000n) & ~0xffffn;
}

/** A big-endian ELF64 (EM_S390) with one PT_LOAD at 0 holding the 16-byte trampoline to `entry`. */
export function s390TrampolineElf(entry: bigint): Uint8Array {
  const code = new Uint8Array(16);
  code.set([0xc4, 0x18, 0, 0, 0, 4, 0x07, 0xf1]);
  new DataView(code.buffer).setBigUint64(8, entry, false);
  const out = new Uint8Array(128 + code.length);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 2, 1, 0]);
  dv.setUint16(16, 2, false); // ET_EXEC
  dv.setUint16(18, 22, false); // EM_S390
  dv.setUint32(20, 1, false);
  dv.setBigUint64(24, 0n, false); // e_entry (relocated by fwbase)
  dv.setBigUint64(32, 64n, false); // e_phoff
  dv.setUint16(52, 64, false);
  dv.setUint16(54, 56, false);
  dv.setUint16(56, 1, false);
  const ph = 64;
  dv.setUint32(ph, 1, false); // PT_LOAD
  dv.setUint32(ph + 4, 5, false); // R+X
  dv.setBigUint64(ph + 8, 128n, false); // p_offset
  dv.setBigUint64(ph + 32, BigInt(code.length), false); // p_filesz
  dv.setBigUint64(ph + 40, BigInt(code.length), false); // p_memsz
  dv.setBigUint64(ph + 48, 8n, false);
  out.set(code, 128);
  return out;
}

/** True when qemu-system-s390x is installed. */
export function haveQemuS390(): boolean {
  return spawnSync("qemu-system-s390x", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Boots qemu-system-s390x with the blobs and the trampoline to `entry`; never `-kernel`. */
export function bootQemuS390(o: { memMiB: number; blobs: LoaderBlob[]; entry: bigint; timeoutMs: number; until?: RegExp }): Promise<BootResult> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-s390-"));
  const bios = join(dir, "trampoline.elf");
  writeFileSync(bios, s390TrampolineElf(o.entry));
  const args = ["-M", "s390-ccw-virtio", "-m", String(o.memMiB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", "-bios", bios, ...loaderArgs(dir, o.blobs)];
  return runQemu("qemu-system-s390x", args, o);
}

/**
 * The kexec_load(2) helper (test/support/kexec-helper/helper.c) for s390x:
 * clang-14 compiles it, binutils' s390x-linux-gnu-ld links it (lld 14 has no
 * s390x target). Null when either is missing.
 */
export function buildS390Helper(): Uint8Array | null {
  const ld = "/usr/bin/s390x-linux-gnu-ld";
  if (spawnSync(ld, ["--version"], { stdio: "ignore" }).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), "kimage-helper-s390-"));
  const out = join(dir, "init");
  const src = new URL("./kexec-helper/helper.c", import.meta.url).pathname;
  const r = spawnSync("clang-14", ["--target=s390x-linux-gnu", "-static", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-pic", "-O2", "-Wall", "-Werror", `--ld-path=${ld}`, "-Wl,--build-id=none", "-o", out, src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the kexec helper for s390x failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

/**
 * Boots a first s390x kernel with QEMU's own loader (`-kernel`, `-initrd`,
 * `-append`: not what is tested). `extra` adds QEMU options (e.g. `-d
 * guest_errors`, which makes QEMU print a disabled-wait PSW when the guest
 * stops in one).
 */
export function bootFirstS390(o: { kernel: string; initramfs: Uint8Array; cmdline: string; memMiB: number; timeoutMs: number; until?: RegExp; extra?: string[] }): Promise<BootResult> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-first-s390-"));
  const initrd = join(dir, "initramfs.cpio");
  writeFileSync(initrd, o.initramfs);
  const args = ["-M", "s390-ccw-virtio", "-m", String(o.memMiB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", "-kernel", o.kernel, "-initrd", initrd, "-append", o.cmdline, ...(o.extra ?? [])];
  return runQemu("qemu-system-s390x", args, o);
}
