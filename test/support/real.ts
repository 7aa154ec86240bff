/**
 * Access to the real Debian files fetched by `npm run fixtures` into
 * `fixtures/real/` (git-ignored). Tests that need them skip with a visible
 * message when they are absent, and fail instead when KIMAGE_REQUIRE_REAL=1
 * (set by .ci/run), so CI can never pass without them.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * What a real file is: a kernel image (`boot/vmlinuz-*`, `boot/vmlinux-*`,
 * `usr/lib/modules/<ver>/vmlinuz[.unsigned]`; not necessarily PE: ppc64el is
 * ELF, s390x is neither), an EFI binary, a kernel `config-*`, a kernel module
 * (`.ko`, `.ko.xz`...), a device tree blob, a PEM certificate, a systemd-stub
 * (`*.efi.stub`: a PE that is not an application by itself) or a peer tool
 * the tests run (`ukify`).
 */
export type RealKind = "kernel" | "efi" | "config" | "module" | "dtb" | "cert" | "stub" | "tool";

/** Where a file came from when the fetcher had to fall back (a stale mirror). */
export interface RealFallback {
  /** The class it stands for: "<suite>/<arch> <how> <name>". */
  class: string;
  /** The package and version the index named first. */
  wanted: string;
  /** Why that one could not be used. */
  reason: string;
}

/** One entry of fixtures/real/missing.json: a class the fetcher could not fetch at all. */
export interface MissingClass {
  class: string;
  reason: string;
}

/** One entry of fixtures/real/manifest.json. */
export interface RealFixture {
  path: string;
  package: string;
  version: string;
  suite: string;
  arch: string;
  kind: RealKind;
  signedPackage: boolean;
  sha256: string;
  /** Present when the fetcher fell back to another version or suite for this file's class. */
  fallback?: RealFallback;
  /** Absolute path on disk. */
  abs: string;
}

export const REAL_DIR = fileURLToPath(new URL("../../fixtures/real/", import.meta.url));
const MANIFEST = `${REAL_DIR}manifest.json`;
const required = process.env.KIMAGE_REQUIRE_REAL === "1";

/** Every manifest entry, present on disk or not; null when there is no manifest. */
export function realManifest(): RealFixture[] | null {
  if (!existsSync(MANIFEST)) return null;
  const list = JSON.parse(readFileSync(MANIFEST, "utf8")) as Omit<RealFixture, "abs">[];
  return list.map((e) => ({ ...e, abs: REAL_DIR + e.path }));
}

/** The classes the last fetch could not provide, with its reasons ([] when none or unknown). */
export function missingClasses(): MissingClass[] {
  const p = `${REAL_DIR}missing.json`;
  return existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as MissingClass[]) : [];
}

/** The fetched real files (possibly empty). */
export function realFixtures(): RealFixture[] {
  return (realManifest() ?? []).filter((e) => existsSync(e.abs));
}

/** The first `n` bytes of a file (fewer if it is shorter). */
export function readHead(path: string, n: number): Uint8Array {
  const buf = new Uint8Array(n);
  const fd = openSync(path, "r");
  try {
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * True when the file is a PE image ("MZ", then "PE\0\0" at e_lfanew): a
 * filter for `requireReal` in tests that only handle PE files (the manifest
 * also lists certificates, configs, modules, DTBs and non-PE kernels).
 */
export function isPe(f: Pick<RealFixture, "abs">): boolean {
  const h = readHead(f.abs, 0x40);
  if (h.length < 0x40 || h[0] !== 0x4d || h[1] !== 0x5a) return false;
  const off = new DataView(h.buffer, h.byteOffset, h.byteLength).getUint32(0x3c, true);
  if (off > 1 << 20) return false;
  const pe = readHead(f.abs, off + 4).subarray(off);
  return pe.length === 4 && pe[0] === 0x50 && pe[1] === 0x45 && pe[2] === 0 && pe[3] === 0;
}

/**
 * Returns the fixtures matching `filter`; when there are none, prints why
 * and returns [] (tests then skip), or throws when real files are required.
 */
export function requireReal(what: string, filter: (f: RealFixture) => boolean = () => true): RealFixture[] {
  const found = realFixtures().filter(filter);
  if (found.length === 0) {
    // When the fetcher could not provide some classes, say which and why: that, not an
    // assertion about a version, is the reason a test then fails.
    const missing = missingClasses();
    const why = missing.length ? `; the fetcher could not provide: ${missing.map((m) => `${m.class} (${m.reason})`).join("; ")}` : "";
    const msg = `real fixtures absent (${what}): run \`npm run fixtures\`${why}`;
    if (required) throw new Error(`${msg}; KIMAGE_REQUIRE_REAL=1 makes this an error`);
    console.warn(`SKIP: ${msg}`);
  }
  return found;
}

/** True when `tool` runs; otherwise warns (or throws under KIMAGE_REQUIRE_REAL=1). */
export function haveTool(tool: string, args: string[] = ["--version"]): boolean {
  const ok = spawnSync(tool, args, { stdio: "ignore" }).error === undefined;
  if (!ok) {
    const msg = `peer tool ${tool} is not installed (apt-get install it; .ci/run does)`;
    if (required) throw new Error(msg);
    console.warn(`SKIP: ${msg}`);
  }
  return ok;
}

/** Reads a file as a Uint8Array. */
export function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Runs a command and returns stdout (throws with stderr on failure). */
export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The kernel release a Debian kernel package names: `linux-image-<abi>-<flavour>[-unsigned]`,
 * `linux-binary-[unsigned-]<abi>-<flavour>` (7.x) → `<abi>-<flavour>`.
 */
export function releaseOf(f: Pick<RealFixture, "package">): string {
  return f.package.replace(/^linux-(image|binary)-(unsigned-)?/, "").replace(/-unsigned$/, "");
}
