/**
 * The boot-proof harness: turns placed segments into a QEMU command line
 * without QEMU's own Linux loader (`-kernel`), runs it with a hard timeout,
 * and reads the serial console for markers.
 *
 * - every segment is a `-device loader,file=…,addr=…,force-raw=on`;
 * - a small trampoline sets the entry registers the plan states and branches
 *   to the kernel; `-device loader,addr=…,cpu-num=0` sets only the PC.
 *
 * arm64 trampoline (40 bytes, ../shared/REFERENCES.md):
 * ```
 *   0: ldr x0, 24        ; x0 = DTB address
 *   4: mov x1, xzr
 *   8: mov x2, xzr
 *  12: mov x3, xzr
 *  16: ldr x4, 32        ; x4 = kernel entry
 *  20: br  x4
 *  24: .quad dtb
 *  32: .quad entry
 * ```
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One blob QEMU's generic loader puts in guest memory. */
export interface LoaderBlob {
  name: string;
  bytes: Uint8Array;
  addr: bigint;
}

/** The 40-byte arm64 trampoline: x0 = dtb, x1..x3 = 0, branch to entry. */
export function arm64Trampoline(dtb: bigint, entry: bigint): Uint8Array {
  const b = new Uint8Array(40);
  const dv = new DataView(b.buffer);
  // LDR (literal, 64-bit): 0x58000000 | imm19 << 5 | Rt, imm19 = byte offset / 4.
  const words = [0x58000000 | (6 << 5) | 0, 0xaa1f03e1, 0xaa1f03e2, 0xaa1f03e3, 0x58000000 | (4 << 5) | 4, 0xd61f0080];
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  dv.setBigUint64(24, dtb, true);
  dv.setBigUint64(32, entry, true);
  return b;
}

/** A newc ("070701") cpio archive of regular files, ending with TRAILER!!!. */
export function newcCpio(files: Array<{ name: string; data: Uint8Array; mode?: number }>): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const pad4 = (n: number) => (4 - (n % 4)) % 4;
  const entry = (name: string, data: Uint8Array, mode: number, ino: number) => {
    const nameBytes = new TextEncoder().encode(name + "\0");
    const h8 = (n: number) => n.toString(16).padStart(8, "0");
    // c_magic c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor c_devminor c_rdevmajor c_rdevminor c_namesize c_check
    const header = "070701" + [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0].map(h8).join("");
    const h = new TextEncoder().encode(header);
    for (const p of [h, nameBytes, new Uint8Array(pad4(h.length + nameBytes.length)), data, new Uint8Array(pad4(data.length))]) {
      parts.push(p);
      size += p.length;
    }
  };
  files.forEach((f, i) => entry(f.name, f.data, f.mode ?? 0o100755, i + 1));
  entry("TRAILER!!!", new Uint8Array(0), 0, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The tiny initramfs the boot tests use: an /init the kernel tries to run (it is not an executable). */
export function tinyInitramfs(): Uint8Array {
  return newcCpio([{ name: "init", data: new TextEncoder().encode("kimage test initramfs: not an executable\n") }]);
}

/** True when QEMU for `arch` is installed. */
export function haveQemu(arch: "aarch64" | "riscv64" | "x86_64"): boolean {
  return spawnSync(`qemu-system-${arch}`, ["--version"], { stdio: "ignore" }).status === 0;
}

/** QEMU's own device tree for `-M virt` with the given memory (dumped with `dumpdtb=`). */
export function dumpVirtDtb(arch: "aarch64" | "riscv64", memMiB: number, extra: string[] = []): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "kimage-dtb-"));
  const out = join(dir, "virt.dtb");
  const cpu = arch === "aarch64" ? ["-cpu", "max"] : [];
  const r = spawnSync(`qemu-system-${arch}`, ["-M", `virt,dumpdtb=${out}`, ...cpu, "-m", String(memMiB), "-nographic", ...extra], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dumpdtb failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

/** Options of {@link bootQemu}. */
export interface BootOptions {
  arch: "aarch64" | "riscv64";
  memMiB: number;
  blobs: LoaderBlob[];
  /** Where the CPU starts (the trampoline). */
  pc: bigint;
  /** Extra QEMU arguments (e.g. `-bios`). */
  extra?: string[];
  /** Hard timeout; the run is killed after it. */
  timeoutMs: number;
  /** Stop early once the console matches this (the markers after it are not needed). */
  until?: RegExp;
}

/** What a boot printed. */
export interface BootResult {
  console: string;
  timedOut: boolean;
  ms: number;
  args: string[];
}

/**
 * Boots QEMU with the blobs placed by `-device loader` and the PC set to
 * `pc`; never `-kernel`. Resolves when QEMU exits, `until` matches, or the
 * timeout kills it.
 */
export function bootQemu(o: BootOptions): Promise<BootResult> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-boot-"));
  const args = ["-M", "virt", ...(o.arch === "aarch64" ? ["-cpu", "max"] : []), "-m", String(o.memMiB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", ...(o.extra ?? []), ...loaderArgs(dir, o.blobs)];
  args.push("-device", `loader,addr=0x${o.pc.toString(16)},cpu-num=0`);
  return runQemu(`qemu-system-${o.arch}`, args, o);
}

/** `-device loader,file=…,addr=…,force-raw=on` for each blob, written into `dir`. */
export function loaderArgs(dir: string, blobs: readonly LoaderBlob[]): string[] {
  const args: string[] = [];
  blobs.forEach((b, i) => {
    const file = join(dir, `${i}-${b.name.replace(/[^a-z0-9.-]/gi, "_")}.bin`);
    writeFileSync(file, b.bytes);
    args.push("-device", `loader,file=${file},addr=0x${b.addr.toString(16)},force-raw=on`);
  });
  return args;
}

/**
 * Runs a QEMU binary with `args`, collecting its console (the last 2–4 MiB),
 * and resolves when it exits, when `until` matches the console (it is then
 * killed), or when `timeoutMs` kills it. `onClose` runs before resolving.
 */
export function runQemu(binary: string, args: string[], o: { timeoutMs: number; until?: RegExp; onClose?: () => void }): Promise<BootResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill("SIGKILL");
    }, o.timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString("latin1");
      if (out.length > 4 << 20) out = out.slice(-(2 << 20));
      if (o.until && o.until.test(out)) p.kill("SIGKILL");
    };
    p.stdout.on("data", onData);
    p.stderr.on("data", onData);
    p.on("close", () => {
      clearTimeout(timer);
      o.onClose?.();
      resolve({ console: out, timedOut, ms: Date.now() - t0, args: [binary, ...args] });
    });
  });
}
