// The CLI commands beyond inspect/digest, on real files and against peer tools:
// verify (exit codes, JSON), sign (checked by sbverify and kimage), extract
// (checked against zstd -dc), plan --out (plan.json shape), inspect identity.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parsePe, parseShimVendorCert } from "../../src/index.js";
import { buildPe } from "../support/pe-builder.js";
import { dumpVirtDtb, haveQemu } from "../support/qemu.js";
import { haveTool, readBytes, requireReal } from "../support/real.js";

function cli(...args: string[]) {
  const r = spawnSync("node", ["dist/cli.js", ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const dir = mkdtempSync(join(tmpdir(), "kimage-cli2-"));

const shims = requireReal("Debian shim (for the Debian Secure Boot CA)", (f) => f.path.endsWith("shim-unsigned/shimx64.efi") && f.suite === "bookworm");
const kernels = requireReal("Debian signed amd64 kernel", (f) => f.kind === "kernel" && f.arch === "amd64" && f.signedPackage && f.suite === "trixie");
const msCa = requireReal("Microsoft UEFI CA 2011", (f) => f.path.endsWith("MicrosoftCorporationUEFICA2011.pem"));
const loong = requireReal("sid loong64 zboot kernel", (f) => f.arch === "loong64" && f.kind === "kernel");
const arm64 = requireReal("arm64 kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k"));

describe.skipIf(shims.length === 0 || kernels.length === 0)("kimage verify", () => {
  let debianCa = "";
  beforeAll(() => {
    const vc = parseShimVendorCert(parsePe(readBytes(shims[0]?.abs ?? "")));
    const der = vc?.certificates[0];
    if (!der) throw new Error("the shim has no vendor certificate");
    debianCa = join(dir, "debian-ca.der");
    writeFileSync(debianCa, der);
  });

  it("a Debian-signed kernel is valid against the Debian CA (exit 0) and untrusted against Microsoft's (exit 1)", () => {
    const k = kernels[0]?.abs ?? "";
    const ok = cli("verify", k, "--cert", debianCa, "--json");
    expect(ok.code, ok.err).toBe(0);
    const j = JSON.parse(ok.out) as { verdict: string; signatures: Array<{ verdict: string; signer: string; digestMatch: boolean }> };
    expect(j.verdict).toBe("valid");
    expect(j.signatures[0]).toMatchObject({ verdict: "valid", digestMatch: true });
    expect(j.signatures[0]?.signer).toContain("Debian Secure Boot Signer");
    const bad = cli("verify", k, "--cert", msCa[0]?.abs ?? "", "--json");
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.out) as { verdict: string }).verdict).toBe("untrusted");
    expect(cli("verify", k, "--cert", debianCa).out).toMatch(/verdict: valid/);
  });

  it("usage errors exit 2", () => {
    expect(cli("verify", kernels[0]?.abs ?? "", "--mode", "bogus").code).toBe(2);
    expect(cli("verify", kernels[0]?.abs ?? "", "--cert", "/nonexistent.pem").code).toBe(2);
  });
});

describe.skipIf(!haveTool("openssl", ["version"]) || !haveTool("sbverify", ["--help"]))("kimage sign", () => {
  it("signs a PE that sbverify and kimage verify accept", () => {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kimage cli test", "-days", "2", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem")], { stdio: "ignore" });
    writeFileSync(join(dir, "in.efi"), buildPe({}).bytes);
    const s = cli("sign", join(dir, "in.efi"), "--key", join(dir, "k.pem"), "--cert", join(dir, "c.pem"), "-o", join(dir, "out.efi"));
    expect(s.code, s.err).toBe(0);
    const sb = spawnSync("sbverify", ["--cert", join(dir, "c.pem"), join(dir, "out.efi")], { encoding: "utf8" });
    expect(sb.status, sb.stdout + sb.stderr).toBe(0);
    expect(cli("verify", join(dir, "out.efi"), "--cert", join(dir, "c.pem")).code).toBe(0);
    expect(cli("sign", join(dir, "in.efi"), "--key", join(dir, "k.pem"), "-o", join(dir, "x.efi")).code).toBe(2);
  });
});

describe.skipIf(loong.length === 0 || !haveTool("zstd"))("kimage extract", () => {
  it("--innermost on the sid loong64 zboot kernel equals zstd -dc of its payload", () => {
    const f = loong[0]?.abs ?? "";
    const b = readBytes(f);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const off = dv.getUint32(8, true);
    const size = dv.getUint32(12, true);
    const want = execFileSync("zstd", ["-dc"], { input: b.subarray(off, off + size), maxBuffer: 256 << 20 });
    const out = join(dir, "inner.bin");
    const r = cli("extract", f, "--innermost", "-o", out);
    expect(r.code, r.err).toBe(0);
    expect(sha(readFileSync(out))).toBe(sha(want));
    const l0 = join(dir, "l0.bin");
    expect(cli("extract", f, "--layer", "0", "-o", l0).code).toBe(0);
    expect(sha(readFileSync(l0))).toBe(sha(b));
    expect(cli("extract", f, "-o", l0).code).toBe(2);
  });
});

describe.skipIf(arm64.length === 0 || !haveQemu("aarch64"))("kimage plan --out", () => {
  it("writes plan.json and the segment files", () => {
    const dtb = join(dir, "virt.dtb");
    writeFileSync(dtb, dumpVirtDtb("aarch64", 1024));
    writeFileSync(join(dir, "initrd"), new Uint8Array(1000).fill(7));
    const out = join(dir, "plan");
    const r = cli("plan", "--arch", "arm64", "--kernel", arm64[0]?.abs ?? "", "--initrd", join(dir, "initrd"), "--cmdline", "console=ttyAMA0", "--dtb", dtb, "--memory", "0x40000000:1G", "--exclude", "0x40000000:2M", "--seed", "5", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/kernel\s+0x[0-9a-f]+/);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { arch: string; entry: { pc: string; registers: Record<string, string> }; segments: Array<{ name: string; file: string; mem: string; memsz: string }> };
    expect(plan.arch).toBe("arm64");
    expect(plan.entry.pc).toMatch(/^0x[0-9a-f]+$/);
    expect(Object.keys(plan.entry.registers)).toEqual(["x0", "x1", "x2", "x3"]);
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd", "dtb"]);
    for (const s of plan.segments) {
      expect(s.mem).toMatch(/^0x[0-9a-f]+$/);
      expect(BigInt(s.memsz) >= BigInt(readFileSync(join(out, s.file)).length)).toBe(true);
    }
    expect(plan.entry.registers.x0).toBe(plan.segments[2]?.mem);
    expect(plan.entry.pc).toBe(plan.segments[0]?.mem);
    expect(readFileSync(join(out, "seg-1.bin"))).toEqual(readFileSync(join(dir, "initrd")));
  });
});

describe.skipIf(kernels.length === 0)("kimage inspect identity", () => {
  it("--json has identity {version, buildId, config} and the full chain", () => {
    const r = cli("inspect", "--json", kernels[0]?.abs ?? "");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { identity: { version: string; buildId: string | null; config: unknown }; layers: Array<{ format: string }> };
    expect(j.identity.version).toBe(kernels[0]?.package.replace(/^linux-image-/, ""));
    expect(j.identity.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(j.layers.map((l) => l.format)).toEqual(["pe", "bzimage", "zstd", "elf"]);
    expect(cli("inspect", kernels[0]?.abs ?? "").out).toMatch(/version: +6\./);
  });
});

const amd64 = requireReal("amd64 unsigned kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "trixie" && !f.signedPackage);

describe.skipIf(amd64.length === 0)("kimage plan --arch x86_64 and --crash", () => {
  it("x86_64: segments, the 64-bit entry, and plan.json's digest equals the segments' SHA-256 (data + zero fill)", () => {
    const out = join(dir, "plan-x86");
    const r = cli("plan", "--arch", "x86_64", "--kernel", amd64[0]?.abs ?? "", "--cmdline", "console=ttyS0", "--memory", "0:0x9fc00,0x100000:511M", "--out", out);
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { entry: { pc: string; registers: Record<string, string> }; segments: Array<{ name: string; file: string; mem: string; memsz: string }>; digest: { alg: string; sha256: string; regions: Array<{ name: string }> } };
    expect(plan.segments.map((s) => s.name)).toEqual(["bootparams", "kernel"]);
    const kernel = plan.segments[1];
    expect(BigInt(plan.entry.pc)).toBe(BigInt(kernel?.mem ?? "0") + 0x200n);
    expect(plan.entry.registers.rsi).toBe(plan.segments[0]?.mem);
    // The purgatory digest, independently: every segment's bytes then zeros up to memsz, in order.
    const h = createHash("sha256");
    for (const s of plan.segments) {
      const bytes = readFileSync(join(out, s.file));
      h.update(bytes);
      h.update(new Uint8Array(Number(BigInt(s.memsz)) - bytes.length));
    }
    expect(plan.digest.alg).toBe("sha256");
    expect(plan.digest.sha256).toBe(h.digest("hex"));
    expect(plan.digest.regions.map((g) => g.name)).toEqual(["bootparams", "kernel"]);
  });

  it("x86_64 refuses a command line the image cannot take, with the kernel's message", () => {
    const r = cli("plan", "--arch", "x86_64", "--kernel", amd64[0]?.abs ?? "", "--cmdline", "x".repeat(3000), "--memory", "0x100000:511M");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/plan-refused .*Kernel command line too long/);
  });

  it.skipIf(arm64.length === 0 || !haveQemu("aarch64"))("arm64 --crash: kind crash, every segment in the region, an elfcorehdr segment", () => {
    const dtb = join(dir, "virt-crash.dtb");
    writeFileSync(dtb, dumpVirtDtb("aarch64", 1024));
    const r = cli("plan", "--arch", "arm64", "--kernel", arm64[0]?.abs ?? "", "--dtb", dtb, "--cmdline", "console=ttyAMA0", "--crash", "0x60000000:256M", "--vmcoreinfo", "0x41000000:4K", "--cpu-note", "0x41001000:0x1a8", "--json");
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(r.out) as { kind: string; segments: Array<{ name: string; mem: string; memsz: string }>; digest: { sha256: string } };
    expect(plan.kind).toBe("crash");
    expect(plan.segments.map((s) => s.name)).toContain("elfcorehdr");
    for (const s of plan.segments) {
      expect(BigInt(s.mem) >= 0x60000000n && BigInt(s.mem) + BigInt(s.memsz) <= 0x70000000n, s.name).toBe(true);
    }
    expect(plan.digest.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
