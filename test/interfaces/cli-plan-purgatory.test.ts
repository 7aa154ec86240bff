// `kimage plan --purgatory --out DIR`: plan.json gains the purgatory and the
// kexec_load(2) arguments; the purgatory segment file carries the plan's
// digest and regions; without --purgatory plan.json has neither.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readPurgatoryParameters } from "../../src/plan/protocol/purgatory.js";
import { requireReal } from "../support/real.js";

function cli(...args: string[]) {
  const r = spawnSync("node", ["dist/cli.js", ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const dir = mkdtempSync(join(tmpdir(), "kimage-cli-purg-"));
const amd64 = requireReal("amd64 unsigned kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "trixie" && !f.signedPackage);

interface PlanJson {
  entry: { pc: string; registers: Record<string, string> };
  segments: Array<{ name: string; file: string; mem: string; memsz: string; bufsz: string }>;
  digest: { sha256: string; regions: Array<{ start: string; len: string }> };
  purgatory?: { mem: string; entryOffset: string; kernelEntry: { pc: string; registers: Record<string, string> }; console: { kind: string; addr: string } | null };
  kexec_load?: { entry: string; nr_segments: number; flags: string; flagNames: string[]; segments: Array<{ buf: string; bufsz: string; mem: string; memsz: string }> };
}

describe.skipIf(amd64.length === 0)("kimage plan --purgatory", () => {
  const args = ["plan", "--arch", "x86_64", "--kernel", amd64[0]?.abs ?? "", "--cmdline", "console=ttyS0", "--memory", "0:0x9fc00,0x100000:511M"];

  it("plan.json holds the kexec_load(2) arguments and the purgatory segment holds the digest", () => {
    const out = join(dir, "with");
    const r = cli(...args, "--purgatory", "--out", out);
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as PlanJson;
    expect(plan.segments.map((s) => s.name)).toEqual(["bootparams", "kernel", "purgatory"]);
    const purg = plan.segments[2]!;
    expect(plan.purgatory?.mem).toBe(purg.mem);
    expect(BigInt(plan.entry.pc)).toBe(BigInt(purg.mem) + BigInt(plan.purgatory?.entryOffset ?? "0"));
    expect(plan.purgatory?.kernelEntry.registers.rsi).toBe(plan.segments[0]?.mem);
    expect(plan.purgatory?.console).toEqual({ kind: "x86-pio", addr: "0x3f8" });
    const k = plan.kexec_load!;
    expect(k.entry).toBe(plan.entry.pc);
    expect(k.nr_segments).toBe(3);
    expect(k.flags).toBe("0x3e0000");
    expect(k.flagNames).toEqual(["KEXEC_ARCH_X86_64"]);
    k.segments.forEach((s, i) => {
      expect(s.buf).toBe(plan.segments[i]?.file);
      expect(BigInt(statSync(join(out, s.buf)).size)).toBe(BigInt(s.bufsz));
      expect(BigInt(s.mem) % 4096n).toBe(0n);
      expect(BigInt(s.memsz) % 4096n).toBe(0n);
    });
    const p = readPurgatoryParameters(new Uint8Array(readFileSync(join(out, purg.file))));
    expect(Buffer.from(p.sha256).toString("hex")).toBe(plan.digest.sha256);
    expect(p.regions.map((g) => [`0x${g.start.toString(16)}`, `0x${g.len.toString(16)}`])).toEqual(plan.digest.regions.map((g) => [g.start, g.len]));
    expect(`0x${p.entry.toString(16)}`).toBe(plan.purgatory?.kernelEntry.pc);
  });

  it("without --purgatory plan.json has no purgatory and no kexec_load", () => {
    const out = join(dir, "without");
    expect(cli(...args, "--out", out).code).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as PlanJson;
    expect(plan.segments.map((s) => s.name)).toEqual(["bootparams", "kernel"]);
    expect(plan.purgatory).toBeUndefined();
    expect(plan.kexec_load).toBeUndefined();
  });

  it("--purgatory-console: none, explicit, and usage errors", () => {
    const none = JSON.parse(cli(...args, "--purgatory", "--purgatory-console", "none", "--json").out) as PlanJson;
    expect(none.purgatory?.console).toBeNull();
    const mine = JSON.parse(cli(...args, "--purgatory", "--purgatory-console", "x86-pio:0x2f8", "--json").out) as PlanJson;
    expect(mine.purgatory?.console).toEqual({ kind: "x86-pio", addr: "0x2f8" });
    expect(cli(...args, "--purgatory", "--purgatory-console", "uart:1").code).toBe(2);
    expect(cli(...args, "--purgatory-console", "none").code).toBe(2);
  });
});

const s390 = requireReal("s390x kernel", (f) => f.arch === "s390x" && f.kind === "kernel");
describe.skipIf(s390.length === 0)("kimage plan --arch s390x --purgatory", () => {
  const args = ["plan", "--arch", "s390x", "--kernel", s390[0]?.abs ?? "", "--cmdline", "console=ttysclp0", "--memory", "0:512M"];

  it("kexec_load gets entry 0 and KEXEC_ARCH_S390; seg-0.bin starts with the restart PSW to the purgatory; the SCLP console", () => {
    const out = join(dir, "s390x");
    const r = cli(...args, "--purgatory", "--out", out);
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as PlanJson;
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "purgatory"]);
    expect(plan.entry.pc).toBe("0x0");
    expect(plan.kexec_load?.entry).toBe("0x0");
    expect(plan.kexec_load?.flags).toBe("0x160000");
    expect(plan.kexec_load?.flagNames).toEqual(["KEXEC_ARCH_S390"]);
    expect(plan.purgatory?.console).toEqual({ kind: "sclp", addr: "0x0" });
    expect(plan.purgatory?.kernelEntry.pc).toBe("0x10000");
    const purg = plan.segments[1]!;
    expect(BigInt(purg.mem) + BigInt(purg.memsz)).toBeLessThanOrEqual(0x80000000n);
    const kernel = readFileSync(join(out, plan.segments[0]!.file));
    // machine_kexec_file.c: "unsigned long restart_psw = 0x0008000080000000UL; restart_psw += image->start;"
    expect(kernel.readBigUInt64BE(0)).toBe(0x0008000080000000n + BigInt(purg.mem) + BigInt(plan.purgatory?.entryOffset ?? "0"));
    const p = readPurgatoryParameters(new Uint8Array(readFileSync(join(out, purg.file))));
    expect(Buffer.from(p.sha256).toString("hex")).toBe(plan.digest.sha256);
    expect(p.entry).toBe(0x10000n);
    expect(p.console).toEqual({ kind: "sclp", addr: 0n, shift: 0 });
    const explicit = JSON.parse(cli(...args, "--purgatory", "--purgatory-console", "sclp", "--json").out) as PlanJson;
    expect(explicit.purgatory?.console).toEqual({ kind: "sclp", addr: "0x0" });
  });
});
