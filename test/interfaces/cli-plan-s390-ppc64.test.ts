// `kimage plan --arch s390x|ppc64` on the real Debian kernels: plan.json's
// segments and entry, and the arch's refusals as CLI errors.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { firstKernelDtb, pseriesDtb } from "../support/plan-builders.js";
import { requireReal } from "../support/real.js";

function cli(...args: string[]) {
  const r = spawnSync("node", ["dist/cli.js", ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const dir = mkdtempSync(join(tmpdir(), "kimage-cli-s390-ppc64-"));
const s390 = requireReal("s390x kernel", (f) => f.arch === "s390x" && f.kind === "kernel");
const ppc = requireReal("ppc64el vmlinux", (f) => f.arch === "ppc64el" && f.kind === "kernel");
interface PlanJson {
  arch: string;
  entry: { pc: string; registers: Record<string, string> };
  segments: Array<{ name: string; mem: string }>;
  bootParams: Record<string, unknown>;
}

describe.skipIf(s390.length === 0)("kimage plan --arch s390x", () => {
  it("writes the image at 0 and the initrd after it; entry 0x10000", () => {
    writeFileSync(join(dir, "initrd"), new Uint8Array(3));
    const out = join(dir, "s390");
    const r = cli("plan", "--arch", "s390x", "--kernel", s390[0]?.abs ?? "", "--initrd", join(dir, "initrd"), "--cmdline", "console=ttysclp0", "--memory", "0:512M", "--out", out);
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as PlanJson;
    expect(plan.arch).toBe("s390x");
    expect(plan.entry).toEqual({ pc: "0x10000", registers: {} });
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel", "initrd"]);
    expect(plan.bootParams.parmarea).toMatchObject({ initrd_start: plan.segments[1]?.mem, initrd_size: "0x3", command_line: "console=ttysclp0" });
    const seg0 = readFileSync(join(out, "seg-0.bin"));
    expect(seg0.subarray(0x10480, 0x10480 + 17).toString("latin1")).toBe("console=ttysclp0\0");
  });

  it("needs a memory map; refuses a too-long command line", () => {
    expect(cli("plan", "--arch", "s390x", "--kernel", s390[0]?.abs ?? "").code).toBe(2);
    const r = cli("plan", "--arch", "s390x", "--kernel", s390[0]?.abs ?? "", "--memory", "0:512M", "--cmdline", "x".repeat(70000));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/plan-refused/);
  });
});

describe.skipIf(ppc.length === 0)("kimage plan --arch ppc64", () => {
  it("vmlinux at 0, the tree below 1 GiB, r3 = the tree", () => {
    const dtb = join(dir, "first.dtb");
    writeFileSync(dtb, firstKernelDtb({ ram: { start: 0n, size: 1n << 30n } }));
    const out = join(dir, "ppc");
    const r = cli("plan", "--arch", "ppc64", "--kernel", ppc[0]?.abs ?? "", "--cmdline", "console=hvc0", "--dtb", dtb, "--out", out);
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as PlanJson;
    expect(plan.segments.map((s) => s.name)).toEqual(["PT_LOAD[0]", "dtb"]);
    expect(plan.entry.pc).toBe("0x0");
    expect(plan.entry.registers).toEqual({ r3: plan.segments[1]?.mem, r4: "0x0", r5: "0x0" });
    expect(cli("plan", "--arch", "ppc64", "--kernel", ppc[0]?.abs ?? "").code).toBe(2);
  });

  it("--load-above ADDR --purgatory: every segment above ADDR, kexec_load with KEXEC_ARCH_PPC64, the hvterm console", () => {
    const dtb = join(dir, "pseries.dtb");
    writeFileSync(dtb, pseriesDtb());
    const out = join(dir, "ppc-kexec");
    const r = cli("plan", "--arch", "ppc64", "--kernel", ppc[0]?.abs ?? "", "--cmdline", "console=hvc0", "--dtb", dtb, "--load-above", "0x2880000", "--purgatory", "--out", out);
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as PlanJson & {
      kexec_load: { flags: string; flagNames: string[]; segments: Array<{ mem: string }> };
      purgatory: { console: { kind: string; addr: string } };
    };
    expect(plan.segments.map((s) => s.name)).toEqual(["PT_LOAD[0]", "dtb", "purgatory"]);
    expect(plan.kexec_load.flags).toBe("0x150000");
    expect(plan.kexec_load.flagNames).toEqual(["KEXEC_ARCH_PPC64"]);
    for (const s of plan.kexec_load.segments) expect(BigInt(s.mem) >= 0x2880000n, s.mem).toBe(true);
    expect(plan.purgatory.console).toEqual({ kind: "hvterm", addr: "0x71000000" });
    expect(cli("plan", "--arch", "arm64", "--kernel", ppc[0]?.abs ?? "", "--dtb", dtb, "--load-above", "0x1000").code).toBe(2);
    expect(cli("plan", "--arch", "ppc64", "--kernel", ppc[0]?.abs ?? "", "--dtb", dtb, "--load-above", "lots").code).toBe(2);
  });
});
