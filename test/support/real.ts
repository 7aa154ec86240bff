/**
 * Access to the real Debian files fetched by `npm run fixtures` into
 * `fixtures/real/` (git-ignored). Tests that need them skip with a visible
 * message when they are absent, and fail instead when KIMAGE_REQUIRE_REAL=1
 * (set by .ci/run), so CI can never pass without them.
 */
import { existsSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** One entry of fixtures/real/manifest.json. */
export interface RealFixture {
  path: string;
  package: string;
  version: string;
  suite: string;
  arch: string;
  kind: "kernel" | "efi";
  signedPackage: boolean;
  sha256: string;
  /** Absolute path on disk. */
  abs: string;
}

export const REAL_DIR = fileURLToPath(new URL("../../fixtures/real/", import.meta.url));
const MANIFEST = `${REAL_DIR}manifest.json`;
const required = process.env.KIMAGE_REQUIRE_REAL === "1";

/** The fetched real files (possibly empty). */
export function realFixtures(): RealFixture[] {
  if (!existsSync(MANIFEST)) return [];
  const list = JSON.parse(readFileSync(MANIFEST, "utf8")) as Omit<RealFixture, "abs">[];
  return list.map((e) => ({ ...e, abs: REAL_DIR + e.path })).filter((e) => existsSync(e.abs));
}

/**
 * Returns the fixtures matching `filter`; when there are none, prints why
 * and returns [] (tests then skip), or throws when real files are required.
 */
export function requireReal(what: string, filter: (f: RealFixture) => boolean = () => true): RealFixture[] {
  const found = realFixtures().filter(filter);
  if (found.length === 0) {
    const msg = `real fixtures absent (${what}): run \`npm run fixtures\``;
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
