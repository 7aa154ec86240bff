// The CLI: exit codes, one-line errors, JSON shapes, the readable tree.
// Runs the built dist/cli.js (npm test builds first) on committed synthetic fixtures.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VERSION } from "../../src/cli.js";
import { authenticodeDigest } from "../../src/index.js";
import { nodeHashProvider, readImage } from "../../src/node/index.js";

const FIX = "fixtures/synthetic";

function cli(...args: string[]) {
  const r = spawnSync("node", ["dist/cli.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("kimage CLI", () => {
  it("the version matches package.json", () => {
    expect(VERSION).toBe((JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version);
    expect(cli("--version").out.trim()).toBe(VERSION);
  });

  it("digest prints the hex digest; --json prints {alg, digest}", async () => {
    const file = `${FIX}/pe32plus-minimal.efi`;
    const want = (await authenticodeDigest(await readImage(file), "sha256", { hash: nodeHashProvider })).hex;
    const plain = cli("digest", file);
    expect(plain).toMatchObject({ code: 0, out: `${want}\n` });
    expect(JSON.parse(cli("digest", "--json", file).out)).toEqual({ alg: "sha256", digest: want });
    const sha1 = JSON.parse(cli("digest", "--alg", "sha1", "--json", file).out) as { digest: string };
    expect(sha1.digest).toHaveLength(40);
  });

  it("digest --json carries the findings of a doubtful layout", () => {
    const r = cli("digest", "--json", `${FIX}/pe32plus-gap.efi`);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { findings: Array<{ code: string }> };
    expect(j.findings.map((f) => f.code)).toContain("section-gap");
  });

  it("inspect --json gives one pe layer with machine, sections and certificates", () => {
    const r = cli("inspect", "--json", `${FIX}/pe32plus-signed-dummy.efi`);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { file: string; layers: Array<Record<string, unknown>> };
    expect(j.file).toBe(`${FIX}/pe32plus-signed-dummy.efi`);
    expect(j.layers).toHaveLength(1);
    expect(j.layers[0]).toMatchObject({ format: "pe", machine: "AMD64", peFormat: "pe32+", subsystem: "EFI_APPLICATION" });
    expect((j.layers[0]?.sections as unknown[]).length).toBe(2);
    // The dummy DER is not a PKCS#7: the entry is listed with the reason.
    expect(j.layers[0]?.certificates).toMatchObject([{ type: "PKCS_SIGNED_DATA", error: { code: "asn1-malformed" } }]);
  });

  it("inspect -v prints a readable tree (the default view is a summary: cli-inspect.test.ts)", () => {
    const r = cli("inspect", "-v", `${FIX}/pe32-i386.efi`);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/└─ \[0\] pe @0x0: PE32 I386 EFI_APPLICATION, 2 section\(s\), unsigned/);
    expect(r.out).toMatch(/machine: I386/);
    expect(r.out).toMatch(/name=\.text /);
  });

  it("invalid input: exit 1, one line on stderr with code, layer and offset", () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-cli-"));
    const bad = join(dir, "bad.efi");
    const b = readFileSync(`${FIX}/pe32plus-minimal.efi`);
    b.writeUInt16LE(0x30b, 0x98); // optional header Magic (e_lfanew 0x80 + 24)
    writeFileSync(bad, b);
    for (const cmd of ["inspect", "digest"]) {
      const r = cli(cmd, bad);
      expect(r.code).toBe(1);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toMatch(/^kimage: pe-bad-optional-magic \[pe @ 0x98\]: /);
    }
    writeFileSync(join(dir, "text"), "hello, not a kernel\n");
    expect(cli("inspect", join(dir, "text"))).toMatchObject({ code: 1 });
    expect(cli("inspect", join(dir, "text")).err).toMatch(/^kimage: unknown-format/);
  });

  it("usage errors and unreadable files: exit 2", () => {
    expect(cli().code).toBe(2);
    expect(cli("frobnicate", "x").code).toBe(2);
    expect(cli("digest").code).toBe(2);
    expect(cli("digest", "--alg", "md5", `${FIX}/pe32plus-minimal.efi`).code).toBe(2);
    expect(cli("inspect", "--bogus", `${FIX}/pe32plus-minimal.efi`).code).toBe(2);
    const r = cli("inspect", "/nonexistent/file");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read .*ENOENT/);
  });
});
