/**
 * The ppc64 boot-proof harness: QEMU's pseries machine started without
 * `-kernel` and without SLOF. pseries loads `-bios` at address 0 and, at
 * every machine reset, starts the first CPU at 0x100 in big-endian real
 * mode with r3 = its own device tree, which it writes near the top of the
 * RMA (hw/ppc/spapr.c `spapr_machine_reset`: `spapr_cpu_set_entry_state(
 * first_ppc_cpu, SPAPR_ENTRY_POINT, 0, fdt_addr, 0)`); a `-device
 * loader,cpu-num=0` PC is overwritten by that reset.
 *
 * A ppc64 plan puts the kernel at 0, so the harness splits the kernel
 * segment: `-bios` is its first 0x110 bytes with a 16-byte stub at 0x100
 * (`lis r12,T@h; ori r12,r12,T@l; mtctr r12; bctr`), the rest is a
 * `-device loader` blob at 0x110, and the trampoline at T (a range the plan
 * excludes) first puts the kernel's own 16 bytes back at 0x100, then sets
 * the plan's r3, r4, r5 and branches to its entry:
 * ```
 *   li r9,0x100; ld r10,0x80(r12); std r10,0(r9); ld r10,0x88(r12); std r10,8(r9)
 *   ld r3,0x90(r12); ld r4,0x98(r12); ld r5,0xa0(r12); ld r11,0xa8(r12); mtctr r11; bctr
 *   0x80: the kernel's bytes 0x100..0x110; 0x90: r3, r4, r5, entry (big-endian quads)
 * ```
 * The CPU is big-endian at reset; the kernel's FIXUP_ENDIAN switches to
 * little-endian, as it does when Open Firmware enters it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loaderArgs, runQemu, type BootResult, type LoaderBlob } from "./qemu.js";

/** True when qemu-system-ppc64 is installed. */
export function haveQemuPpc64(): boolean {
  return spawnSync("qemu-system-ppc64", ["--version"], { stdio: "ignore" }).status === 0;
}

/** QEMU's own pseries device tree for `memMiB` (dumped with `dumpdtb=`). */
export function dumpPseriesDtb(memMiB: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "kimage-dtb-"));
  const out = join(dir, "pseries.dtb");
  const r = spawnSync("qemu-system-ppc64", ["-M", `pseries,dumpdtb=${out}`, "-m", String(memMiB), "-nographic"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dumpdtb failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

const be32 = (x: number): number[] => [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
/** ld rt,d(ra) / std rs,d(ra) (DS-form). */
const ld = (rt: number, d: number, ra: number): number[] => be32(((58 << 26) | (rt << 21) | (ra << 16) | d) >>> 0);
const std = (rs: number, d: number, ra: number): number[] => be32(((62 << 26) | (rs << 21) | (ra << 16) | d) >>> 0);

/** The 16-byte stub at 0x100 that branches to `t` (below 2 GiB). */
export function ppc64ResetStub(t: bigint): Uint8Array {
  const n = Number(t);
  return new Uint8Array([...be32(((15 << 26) | (12 << 21) | (n >>> 16)) >>> 0), ...be32(((24 << 26) | (12 << 21) | (12 << 16) | (n & 0xffff)) >>> 0), ...be32(0x7d8903a6), ...be32(0x4e800420)]);
}

/** The trampoline at T: restores `saved` (16 bytes) at 0x100, sets r3..r5, branches to `entry`. */
export function ppc64Trampoline(saved: Uint8Array, r: { r3: bigint; r4: bigint; r5: bigint }, entry: bigint): Uint8Array {
  const code = [
    ...be32(((14 << 26) | (9 << 21) | 0x100) >>> 0),
    ...ld(10, 0x80, 12),
    ...std(10, 0, 9),
    ...ld(10, 0x88, 12),
    ...std(10, 8, 9),
    ...ld(3, 0x90, 12),
    ...ld(4, 0x98, 12),
    ...ld(5, 0xa0, 12),
    ...ld(11, 0xa8, 12),
    ...be32(0x7d6903a6),
    ...be32(0x4e800420),
  ];
  const out = new Uint8Array(0xb0);
  out.set(code);
  out.set(saved.subarray(0, 16), 0x80);
  const dv = new DataView(out.buffer);
  [r.r3, r.r4, r.r5, entry].forEach((v, i) => dv.setBigUint64(0x90 + 8 * i, v, false));
  return out;
}

/**
 * Boots qemu-system-ppc64 -M pseries with the plan's blobs (the one at 0
 * split as described above) and the trampoline at `trampoline`; never
 * `-kernel`, never SLOF.
 */
export function bootQemuPpc64(o: {
  memMiB: number;
  blobs: LoaderBlob[];
  registers: { r3: bigint; r4: bigint; r5: bigint };
  entry: bigint;
  trampoline: bigint;
  timeoutMs: number;
  until?: RegExp;
  /** Extra QEMU arguments (e.g. `-smp 1`). */
  extraArgs?: string[];
}): Promise<BootResult> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-ppc64-"));
  const zero = o.blobs.find((b) => b.addr === 0n);
  if (!zero || zero.bytes.length < 0x110) throw new Error("the harness expects a segment at 0 of at least 0x110 bytes");
  const bios = new Uint8Array(0x110);
  bios.set(zero.bytes.subarray(0, 0x100));
  bios.set(ppc64ResetStub(o.trampoline), 0x100);
  const biosFile = join(dir, "bios.bin");
  writeFileSync(biosFile, bios);
  const blobs: LoaderBlob[] = [
    ...o.blobs.map((b) => (b === zero ? { name: b.name, bytes: b.bytes.subarray(0x110), addr: 0x110n } : b)),
    { name: "trampoline", bytes: ppc64Trampoline(zero.bytes.subarray(0x100, 0x110), o.registers, o.entry), addr: o.trampoline },
  ];
  const args = ["-M", "pseries", "-m", String(o.memMiB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", "-bios", biosFile, ...(o.extraArgs ?? []), ...loaderArgs(dir, blobs)];
  return runQemu("qemu-system-ppc64", args, o);
}
