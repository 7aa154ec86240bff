/**
 * The kexec_load(2) proof's guest side: the static helper
 * (test/support/kexec-helper/helper.c, built here with Debian's clang-14 +
 * lld-14 for the guest's arch, no libc), the initramfs images that carry it,
 * and the first kernel's QEMU run. The first kernel is started with QEMU's
 * own Linux loader (`-kernel`, `-initrd`, `-append`): it is not what is
 * tested; what it loads with kexec_load(2) is.
 */
import { planJson } from "../../src/cli/plan.js";
import type { AnyPlan } from "../../src/plan/core/types.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { newcCpio, runQemu, type BootResult } from "./qemu.js";

/** The guest architectures, by QEMU's name (ppc64: the little-endian ppc64el guest). */
export type GuestArch = "x86_64" | "aarch64" | "riscv64" | "ppc64";

const HELPER_SRC = fileURLToPath(new URL("./kexec-helper/helper.c", import.meta.url));

/** True when the helper can be built. */
export function haveHelperToolchain(): boolean {
  return ["clang-14", "ld.lld-14"].every((t) => spawnSync(t, ["--version"], { stdio: "ignore" }).status === 0);
}

/** Builds the helper for `arch` (or another freestanding source, e.g. the referee's): a static ELF executable. */
export function buildHelper(arch: GuestArch, src: string = HELPER_SRC): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "kimage-helper-"));
  try {
    const out = join(dir, "init");
    const extra = arch === "riscv64" ? ["-march=rv64imac", "-mabi=lp64", "-mno-relax"] : [];
    const target = arch === "ppc64" ? "powerpc64le" : arch;
    const r = spawnSync(
      "clang-14",
      [`--target=${target}-linux-gnu`, ...extra, "-static", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-pic", "-O2", "-Wall", "-Werror", "-fuse-ld=lld", "-Wl,--build-id=none", "-o", out, src],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`building the kexec helper for ${arch} failed: ${r.stderr}`);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const DIR = 0o40755;

/** An initramfs whose /init is the helper, with /dev, /proc, /sys and the extra files (e.g. /plan/…). */
export function helperInitramfs(helper: Uint8Array, files: Array<{ name: string; data: Uint8Array }> = []): Uint8Array {
  const dirs = new Set(["dev", "proc", "sys"]);
  for (const f of files) if (f.name.includes("/")) dirs.add(f.name.slice(0, f.name.lastIndexOf("/")));
  return newcCpio([...[...dirs].map((name) => ({ name, data: new Uint8Array(0), mode: DIR })), { name: "init", data: helper }, ...files.map((f) => ({ ...f, mode: 0o100644 }))]);
}

/** Options of {@link bootFirstKernel}. */
export interface FirstBoot {
  arch: GuestArch;
  kernel: string;
  initramfs: Uint8Array;
  cmdline: string;
  memMiB: number;
  /** Extra QEMU arguments (machine, cpu, bios). */
  machine: string[];
  timeoutMs: number;
  until?: RegExp;
}

/** Boots the first kernel with QEMU's Linux loader and returns its console. */
export function bootFirstKernel(o: FirstBoot): Promise<BootResult> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-first-"));
  const initrd = join(dir, "initramfs.cpio");
  writeFileSync(initrd, o.initramfs);
  const args = [...o.machine, "-m", String(o.memMiB), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", "-kernel", o.kernel, "-initrd", initrd, "-append", o.cmdline];
  return runQemu(`qemu-system-${o.arch}`, args, { timeoutMs: o.timeoutMs, ...(o.until ? { until: o.until } : {}), onClose: () => rmSync(dir, { recursive: true, force: true }) });
}

/** The text between `KIMAGE-BEGIN tag` and `KIMAGE-END tag` (the n-th occurrence), CR stripped. */
export function marked(console: string, tag: string, n = 0): string | undefined {
  const re = new RegExp(`KIMAGE-BEGIN ${tag}\\r?\\n([\\s\\S]*?)KIMAGE-END ${tag}`, "g");
  const all = [...console.matchAll(re)];
  return all[n]?.[1]?.replace(/\r/g, "");
}

/** The bytes of a hex dump section (`fdt`). */
export function markedHex(console: string, tag: string): Uint8Array | undefined {
  const text = marked(console, tag);
  if (text === undefined) return undefined;
  const hex = text.replace(/[^0-9a-f]/g, "");
  return new Uint8Array(hex.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
}

/**
 * The initramfs files a kexec boot's helper reads: plan/plan.json (the CLI's
 * plan.json, with its `kexec_load` block) and plan/seg-N.bin, one per segment;
 * with `flip`, one byte in the middle of that segment is changed (the
 * purgatory must refuse it).
 */
export function kexecPlanFiles(plan: AnyPlan, flip?: string): Array<{ name: string; data: Uint8Array }> {
  const files = plan.segments.map((_, i) => `seg-${i}.bin`);
  return [
    { name: "plan/plan.json", data: new TextEncoder().encode(JSON.stringify(planJson(plan, files), null, 2) + "\n") },
    ...plan.segments.map((s, i) => {
      let data = s.bytes;
      if (s.name === flip) {
        data = s.bytes.slice();
        const at = Math.floor(data.length / 2);
        data[at] = (data[at] ?? 0) ^ 0x01;
      }
      return { name: `plan/${files[i]!}`, data };
    }),
  ];
}
