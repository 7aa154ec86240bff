// The real-fixture cache written by `npm run fixtures` (scripts/fetch-fixtures.sh):
// every file the manifest lists is on disk with the recorded sha256, and the
// set covers what the other real-file tests rely on (a kernel per
// architecture, the Microsoft UEFI CA certificates, a module, a DTB, the
// loong64 EFI zboot kernel from sid).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readHead, realManifest, type RealFixture } from "./support/real.js";

const required = process.env.KIMAGE_REQUIRE_REAL === "1";
const manifest = realManifest();
if (manifest === null) {
  const msg = "real fixtures absent (fixtures/real/manifest.json): run `npm run fixtures`";
  if (required) throw new Error(`${msg}; KIMAGE_REQUIRE_REAL=1 makes this an error`);
  console.warn(`SKIP: ${msg}`);
}
const entries = manifest ?? [];
const KINDS = ["kernel", "efi", "config", "module", "dtb", "cert", "stub", "tool"];
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/**
 * Passes when `found` is non-empty. Otherwise fails naming `what` under
 * KIMAGE_REQUIRE_REAL=1, and skips visibly when not (e.g. after
 * FIXTURES_SET=minimal).
 */
function expectPresent(found: RealFixture[], what: string, skip: (note?: string) => void): void {
  if (found.length > 0) return;
  const msg = `no ${what} in fixtures/real/manifest.json: run \`npm run fixtures\` (FIXTURES_SET=all)`;
  if (required) throw new Error(msg);
  console.warn(`SKIP: ${msg}`);
  skip(msg);
}

describe.skipIf(manifest === null)("fixtures/real/manifest.json", () => {
  it("lists unique paths, sorted, with known kinds and non-empty fields", () => {
    expect(entries.length).toBeGreaterThan(0);
    const paths = entries.map((e) => e.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect([...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(paths);
    for (const e of entries) {
      expect(KINDS, e.path).toContain(e.kind);
      // A file fetched from another suite as a fallback stays in its class's folder.
      const folderSuite = e.fallback ? e.fallback.class.split("/")[0] : e.suite;
      expect(e.path, e.path).toBe(`${folderSuite}/${e.arch}/${e.package}/${e.path.split("/").pop()}`);
      if (e.fallback) {
        for (const k of ["class", "wanted", "reason"] as const) expect(e.fallback[k], `${e.path}: fallback.${k}`).toMatch(/\S/);
      }
      expect(typeof e.signedPackage, e.path).toBe("boolean");
      expect(e.sha256, e.path).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("every listed file exists and matches its sha256", () => {
    for (const e of entries) {
      expect(existsSync(e.abs) && statSync(e.abs).isFile(), `${e.path} exists`).toBe(true);
      expect(createHash("sha256").update(readFileSync(e.abs)).digest("hex"), `${e.path} sha256`).toBe(e.sha256);
    }
  });

  it("every kernel names its package, version, suite and architecture", () => {
    const kernels = entries.filter((e) => e.kind === "kernel");
    expect(kernels.length).toBeGreaterThan(0);
    for (const k of kernels) {
      for (const field of ["package", "version", "suite", "arch"] as const) {
        expect(typeof k[field] === "string" && k[field].length > 0, `${k.path}: ${field}`).toBe(true);
      }
    }
  });

  // One kernel per architecture (arm64 with 4K and with 16K pages apart).
  const ARCHES: Array<[string, (e: RealFixture) => boolean]> = [
    ["amd64", (e) => e.arch === "amd64"],
    ["arm64", (e) => e.arch === "arm64" && !e.package.includes("-16k")],
    ["arm64 16k", (e) => e.arch === "arm64" && e.package.includes("-16k")],
    ["i386", (e) => e.arch === "i386"],
    ["armhf", (e) => e.arch === "armhf"],
    ["ppc64el", (e) => e.arch === "ppc64el"],
    ["s390x", (e) => e.arch === "s390x"],
    ["riscv64", (e) => e.arch === "riscv64"],
    ["loong64", (e) => e.arch === "loong64"],
  ];
  for (const [name, match] of ARCHES) {
    it(`has a ${name} kernel`, (ctx) => {
      expectPresent(entries.filter((e) => e.kind === "kernel" && match(e)), `${name} kernel`, ctx.skip);
    });
  }

  it("has the Microsoft UEFI CA 2011 and 2023 certificates (PEM)", (ctx) => {
    for (const base of ["MicrosoftCorporationUEFICA2011.pem", "MicrosoftUEFICA2023.pem"]) {
      const found = entries.filter((e) => e.kind === "cert" && e.path.endsWith(`/${base}`));
      expectPresent(found, base, ctx.skip);
      for (const c of found) {
        // Comment text (a dump of the certificate) may precede the PEM block.
        expect(readFileSync(c.abs, "latin1"), c.path).toMatch(/-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/);
      }
    }
  });

  it("has a kernel module (ELF, or xz/zstd/gzip-compressed)", (ctx) => {
    const found = entries.filter((e) => e.kind === "module");
    expectPresent(found, "kernel module", ctx.skip);
    for (const m of found) {
      const h = readHead(m.abs, 6);
      const magic = /\.ko\.xz$/.test(m.path) ? "\xfd7zXZ\0" : /\.ko\.zst$/.test(m.path) ? "\x28\xb5\x2f\xfd" : /\.ko\.gz$/.test(m.path) ? "\x1f\x8b" : "\x7fELF";
      expect(text(h.subarray(0, magic.length)), m.path).toBe(magic);
    }
  });

  it("has a device tree blob (FDT magic d00dfeed)", (ctx) => {
    const found = entries.filter((e) => e.kind === "dtb");
    expectPresent(found, "device tree blob", ctx.skip);
    for (const d of found) expect(text(readHead(d.abs, 4)), d.path).toBe("\xd0\x0d\xfe\xed");
  });

  it("has kernel configs", (ctx) => {
    const found = entries.filter((e) => e.kind === "config");
    expectPresent(found, "kernel config", ctx.skip);
    for (const c of found) expect(readFileSync(c.abs, "latin1"), c.path).toMatch(/^CONFIG_[A-Z0-9_]+=/m);
  });

  it("the loong64 kernel from sid is an EFI zboot image (\"zimg\" at offset 4)", (ctx) => {
    const found = entries.filter((e) => e.kind === "kernel" && e.arch === "loong64" && e.suite === "sid");
    expectPresent(found, "sid loong64 kernel", ctx.skip);
    for (const k of found) {
      const h = readHead(k.abs, 8);
      expect(text(h.subarray(0, 2)), k.path).toBe("MZ");
      expect(text(h.subarray(4, 8)), k.path).toBe("zimg");
    }
  });
});
