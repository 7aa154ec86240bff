// scripts/fetch-fixtures.sh against a stale archive, made here: a local Debian
// archive (file:// mirror, suites "alpha" and "beta") whose index lists
// versions the pool does not have, or has with the wrong hash. The fetcher must
// fall back as its header says (other versions of the package, other ABIs of
// the kernel flavour, then another suite), record each fallback in the
// manifest, and report a class it cannot fetch once, in missing.json.
//
// The second run simulates a future archive: the resolver is fed a kernel ABI
// one number higher than the index lists (FIXTURES_SIMULATE_BUMP) and a 404 for
// one package (FIXTURES_SIMULATE_404). A Debian point release is exactly that.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { haveTool } from "./support/real.js";

const SCRIPT = fileURLToPath(new URL("../scripts/fetch-fixtures.sh", import.meta.url));
const canRun = haveTool("dpkg-deb", ["--version"]) && haveTool("apt-get", ["--version"]);

interface Deb {
  name: string;
  version: string;
  /** The file inside the package (kernel image or EFI binary), with its content. */
  member: string;
  depends?: string;
  /** In the pool? (false: the index lists it, the mirror 404s) */
  inPool?: boolean;
  /** Index the wrong SHA256 (a mirror caught mid-sync). */
  badHash?: boolean;
  /**
   * Index the Size of this package's build in that suite (another build of the
   * same version with, by chance, the same size). apt then merges the two
   * records into one version, since its SameVersion compares the Size and not
   * the hash, and fetches one suite's file against the other's hash. Two .debs
   * of equal size by chance made CI red once; here it is made certain.
   */
  sizeOf?: string;
}

let dir = "";

/** Writes the archive: pool/<suite>/*.deb, dists/<suite>/{Release, main/binary-amd64/Packages}. */
function buildArchive(root: string, suites: Record<string, Deb[]>): void {
  // Pass 1: every .deb (so that a record may name another suite's build).
  const built = new Map<string, { control: string[]; rel: string; size: number; sha: string }>();
  for (const [suite, debs] of Object.entries(suites)) {
    for (const d of debs) {
      const build = join(root, "build", `${suite}-${d.name}-${d.version}`);
      mkdirSync(join(build, "DEBIAN"), { recursive: true });
      const control = [`Package: ${d.name}`, `Version: ${d.version}`, "Architecture: amd64", "Maintainer: kimage tests <t@example.invalid>", `Description: ${d.name} for the fetcher test`];
      if (d.depends) control.push(`Depends: ${d.depends}`);
      writeFileSync(join(build, "DEBIAN", "control"), control.join("\n") + "\n");
      const memberPath = join(build, d.member);
      mkdirSync(join(memberPath, ".."), { recursive: true });
      writeFileSync(memberPath, `${d.name} ${d.version} ${suite}\n`.repeat(64));
      const rel = `pool/${suite}/${d.name}_${d.version}_amd64.deb`;
      const debPath = join(root, rel);
      mkdirSync(join(debPath, ".."), { recursive: true });
      const r = spawnSync("dpkg-deb", ["-Zgzip", "--root-owner-group", "--build", build, debPath], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`dpkg-deb: ${r.stderr}`);
      const bytes = readFileSync(debPath);
      const sha = createHash("sha256").update(d.badHash ? Buffer.from("not the file") : bytes).digest("hex");
      built.set(`${suite}/${d.name}/${d.version}`, { control, rel, size: bytes.length, sha });
    }
  }
  // Pass 2: the indexes; then the files the mirror lacks are removed.
  for (const [suite, debs] of Object.entries(suites)) {
    const stanzas: string[] = [];
    for (const d of debs) {
      const own = built.get(`${suite}/${d.name}/${d.version}`);
      const twin = d.sizeOf ? built.get(`${d.sizeOf}/${d.name}/${d.version}`) : own;
      if (!own || !twin) throw new Error(`no build of ${d.name} ${d.version} in ${d.sizeOf ?? suite}`);
      stanzas.push([...own.control.filter((l) => !l.startsWith("Description")), `Filename: ${own.rel}`, `Size: ${twin.size}`, `SHA256: ${own.sha}`, `Description: ${d.name}`].join("\n"));
    }
    for (const d of debs) if (d.inPool === false) rmSync(join(root, `pool/${suite}/${d.name}_${d.version}_amd64.deb`));
    const pkgs = stanzas.join("\n\n") + "\n";
    const pdir = join(root, "dists", suite, "main", "binary-amd64");
    mkdirSync(pdir, { recursive: true });
    writeFileSync(join(pdir, "Packages"), pkgs);
    const sha = createHash("sha256").update(pkgs).digest("hex");
    writeFileSync(
      join(root, "dists", suite, "Release"),
      [`Suite: ${suite}`, `Codename: ${suite}`, "Architectures: amd64", "Components: main", "Date: Thu, 03 Dec 2026 00:00:00 UTC", "SHA256:", ` ${sha} ${Buffer.byteLength(pkgs)} main/binary-amd64/Packages`].join("\n") + "\n",
    );
  }
}

const KVMLINUZ = (abi: string) => `boot/vmlinuz-${abi}`;
const kernelDeb = (abi: string, version: string, extra: Partial<Deb> = {}): Deb => ({ name: `linux-image-${abi}`, version, member: KVMLINUZ(abi), ...extra });

function fetch(out: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", [SCRIPT], {
    encoding: "utf8",
    env: { ...process.env, FIXTURES_OUT: out, FIXTURES_ITEMS: join(dir, "items"), FIXTURES_TRUSTED: "1", FIXTURES_MIRROR: `file://${join(dir, "archive")}`, FIXTURES_REFRESH: "1", ...env },
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Entry {
  path: string;
  package: string;
  version: string;
  suite: string;
  fallback?: { class: string; wanted: string; reason: string };
}
const manifest = (out: string) => JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as Entry[];
const missing = (out: string) => JSON.parse(readFileSync(join(out, "missing.json"), "utf8")) as { class: string; reason: string }[];

describe.skipIf(!canRun)("fetch-fixtures.sh on a stale archive", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kimage-fetch-"));
    writeFileSync(
      join(dir, "items"),
      ["alpha amd64 kernel linux-image-fake", "alpha amd64 pkg tool-a", "alpha amd64 pkg tool-b", "alpha amd64 pkg tool-c", "beta amd64 pkg tool-d"].join("\n") + "\n",
    );
    buildArchive(join(dir, "archive"), {
      alpha: [
        // The metapackage names an ABI whose .deb the mirror does not have (the issue's 404).
        { name: "linux-image-fake", version: "3", member: "usr/share/doc/linux-image-fake/x", depends: "linux-image-1.0.3+deb9-fake (= 1.0.3-1)" },
        kernelDeb("1.0.3+deb9-fake", "1.0.3-1", { inPool: false }),
        // Older ABIs the index still lists: the newest must be chosen.
        kernelDeb("1.0.1+deb9-fake", "1.0.1-1"),
        kernelDeb("1.0.2+deb9-fake", "1.0.2-1"),
        // Decoys: another flavour and a debug package, newer, must never be chosen.
        kernelDeb("1.0.9+deb9-fake-16k", "1.0.9-1"),
        { ...kernelDeb("1.0.9+deb9-fake", "1.0.9-1"), name: "linux-image-1.0.9+deb9-fake-dbg" },
        // A hash mismatch on the newest version: the older one serves.
        { name: "tool-a", version: "2.0", member: "usr/lib/tool/a.efi", badHash: true },
        { name: "tool-a", version: "1.0", member: "usr/lib/tool/a.efi" },
        // Only in the index of alpha; beta has another build of it, of the same size.
        { name: "tool-b", version: "1.0", member: "usr/lib/tool/b.efi", inPool: false, sizeOf: "beta" },
        // Nowhere.
        { name: "tool-c", version: "1.0", member: "usr/lib/tool/c.efi", inPool: false },
      ],
      beta: [
        { name: "tool-b", version: "1.0", member: "usr/lib/tool/b.efi" },
        { name: "tool-d", version: "1.0", member: "usr/lib/tool/d.efi" },
      ],
    });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("falls back to the next ABI, the next version, another suite; reports the rest once", () => {
    const out = join(dir, "out1");
    const r = fetch(out);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const m = manifest(out);
    const byPkg = (p: string) => m.filter((e) => e.package === p);

    // The kernel: 1.0.3 404s; the newest other ABI of the same flavour is 1.0.2.
    const k = byPkg("linux-image-1.0.2+deb9-fake");
    expect(k).toHaveLength(1);
    expect(k[0]?.path).toBe("alpha/amd64/linux-image-1.0.2+deb9-fake/vmlinuz-1.0.2+deb9-fake");
    expect(k[0]?.fallback).toMatchObject({ class: "alpha/amd64 kernel linux-image-fake", wanted: "linux-image-1.0.3+deb9-fake 1.0.3-1" });
    expect(k[0]?.fallback?.reason).toMatch(/download of linux-image-1\.0\.3\+deb9-fake 1\.0\.3-1 failed/);
    expect(m.some((e) => /1\.0\.9|1\.0\.1\+/.test(e.package))).toBe(false);

    // tool-a: 2.0's hash does not match; 1.0 (madison's next) is used.
    expect(byPkg("tool-a")).toMatchObject([{ version: "1.0", suite: "alpha", fallback: { wanted: "tool-a 2.0" } }]);
    // tool-b: from beta, recorded as such.
    expect(byPkg("tool-b"), r.stdout + r.stderr).toMatchObject([{ version: "1.0", suite: "beta", fallback: { class: "alpha/amd64 pkg tool-b" } }]);
    // tool-d: no fallback.
    expect(byPkg("tool-d")[0]?.fallback).toBeUndefined();
    // tool-c: reported once, in missing.json and in the summary.
    expect(byPkg("tool-c")).toEqual([]);
    expect(missing(out)).toHaveLength(1);
    expect(missing(out)[0]).toMatchObject({ class: "alpha/amd64 pkg tool-c" });
    expect(missing(out)[0]?.reason).toMatch(/tool-c 1\.0: download failed/);
    const summary = r.stdout.slice(r.stdout.indexOf("Summary:"));
    expect(summary.match(/alpha\/amd64 pkg tool-c/g)).toHaveLength(1);
    expect(summary).toMatch(/Fell back \(3;/);

    // A second run uses the cache (nothing downloaded again) and says the same.
    const again = fetch(out);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/0 packages fetched now, 4 already cached/);
    expect(manifest(out)).toEqual(m);
  }, 240_000);

  it("a simulated future archive: one ABI higher and a 404 still yield the same classes", () => {
    // The simulation bumps the ABI past what the index lists (1.0.4) and makes 1.0.2 404
    // too (1.0.3 already does): the fetcher must land on the next ABI down, 1.0.1.
    writeFileSync(join(dir, "items"), "alpha amd64 kernel linux-image-fake\nbeta amd64 pkg tool-d\n");
    const out = join(dir, "out2");
    const r = fetch(out, { FIXTURES_SIMULATE_BUMP: "kernel", FIXTURES_SIMULATE_404: "^linux-image-1\\.0\\.2\\+" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[simulate\] alpha\/amd64 kernel linux-image-fake: the index is made to list linux-image-1\.0\.4\+deb9-fake 1\.0\.4-1/);
    const m = manifest(out);
    const kernel = m.filter((e) => e.path.includes("vmlinuz"));
    expect(kernel).toHaveLength(1);
    expect(kernel[0]).toMatchObject({ package: "linux-image-1.0.1+deb9-fake", fallback: { class: "alpha/amd64 kernel linux-image-fake", wanted: "linux-image-1.0.4+deb9-fake 1.0.4-1" } });
    expect(r.stderr).toMatch(/linux-image-1\.0\.2\+deb9-fake 1\.0\.2-1: download failed \(E: .*404 {2}Not Found \(simulated/);
    expect(missing(out)).toEqual([]);
    expect(existsSync(join(out, kernel[0]?.path ?? "-"))).toBe(true);
  }, 240_000);
});
