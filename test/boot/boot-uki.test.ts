// Boot proof for plans from a UKI: ukify (trixie) builds an arm64 and an
// x86_64 UKI around the real Debian kernels, whose `.initrd` holds the test
// helper as /init; `kimage plan --kernel uki.efi [--profile N] --out DIR`
// makes the plan (no --cmdline, no --initrd: both come from the UKI), and the
// plan's segments boot in QEMU with the same harness as boot-arm64 and
// boot-x86_64 (no -kernel, every segment a -device loader blob). The /init
// from the UKI's initrd prints /proc/cmdline, which must equal the UKI's
// `.cmdline` (profile 1's own with --profile 1).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import type { Range } from "../../src/plan/core/memory.js";
import { buildHelper, haveHelperToolchain, helperInitramfs } from "../support/kexec-guest.js";
import { arm64Trampoline, bootQemu, dumpVirtDtb, haveQemu, newcCpio } from "../support/qemu.js";
import { ukify, ukifyKit, type UkifyKit } from "../support/uki.js";
import { bootX86, buildX86Firmware, haveBinutils } from "../support/x86-firmware.js";

const kit = ukifyKit();
const ready = kit !== null && haveHelperToolchain();
const work = mkdtempSync(join(tmpdir(), "kimage-boot-uki-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface PlanJson {
  cmdline: string;
  entry: { pc: string; registers: Record<string, string> };
  segments: Array<{ name: string; file: string; mem: string }>;
  uki: { profile: number; cmdlineSource: string; initrd: Array<{ source: string; length: number; pad: number }>; envelope: { verdict: string; missingAnchors: string[] } };
}

async function plan(args: string[]): Promise<{ json: PlanJson; dir: string }> {
  const dir = mkdtempSync(join(work, "plan-"));
  const err: string[] = [];
  const status = await main(["plan", ...args, "--out", dir], { out: () => undefined, err: (s) => void err.push(s) });
  expect(status, err.join("\n")).toBe(0);
  return { json: JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as PlanJson, dir };
}

function blobs(p: { json: PlanJson; dir: string }) {
  return p.json.segments.map((s) => ({ name: s.name, bytes: new Uint8Array(readFileSync(join(p.dir, s.file))), addr: BigInt(s.mem) }));
}

/** The UKI's initrd: the helper as /init, plus a second cpio as `.ucode` (prepended by the stub's rules). */
function ukiInputs(k: UkifyKit, arch: "amd64" | "arm64", dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "initrd.cpio"), helperInitramfs(buildHelper(arch === "amd64" ? "x86_64" : "aarch64")));
  // A cpio followed by 2 zero bytes (archives are often zero-padded): its length is 2 mod 4, so the
  // .initrd after it starts 4-aligned (as the kernel's unpacker requires of a header) only with the stub's padding.
  const ucode = newcCpio([{ name: "kimage-ucode", data: new TextEncoder().encode("uc\n"), mode: 0o100644 }]);
  writeFileSync(join(dir, "ucode.cpio"), Uint8Array.from([...ucode, 0, 0]));
  writeFileSync(join(dir, "os-release"), 'ID=kimage\nNAME="kimage boot"\n');
  return ["--stub", k.stub[arch], "--linux", k.kernel[arch], "--initrd", join(dir, "initrd.cpio"), "--microcode", join(dir, "ucode.cpio"), "--os-release", `@${join(dir, "os-release")}`];
}

const SECOND = /KIMAGE-SECOND-INIT \/init from the plan's initrd; \/proc\/cmdline: ([^\r\n]*)\r?\n/;

function expectUkiBoot(log: string, cmdline: string, name: string): void {
  // The console stays inspectable after the run (test-results/ is git-ignored).
  mkdirSync("test-results", { recursive: true });
  writeFileSync(`test-results/boot-uki-${name}.log`, log);
  expect(log, "initramfs must not be rejected").not.toMatch(/Initramfs unpacking failed|rootfs image is not initramfs/);
  expect(log, "ran /init from the UKI's initrd").toMatch(/Run \/init as init process/);
  expect(/Kernel command line: (.*)\r?\n/.exec(log)?.[1], "command line").toBe(cmdline);
  expect(SECOND.exec(log)?.[1], "/proc/cmdline printed by the UKI's /init").toBe(cmdline);
}

const RAM = 0x40000000n;
const ARM_MIB = 1024;

describe.skipIf(!ready || !haveQemu("aarch64"))("a plan from an arm64 UKI boots in QEMU", () => {
  it("with the UKI's .cmdline and initrd", async () => {
    const k = kit as UkifyKit;
    const dir = join(work, "arm64");
    const cmdline = "console=ttyAMA0 earlycon panic=-1 kimage.mode=second kimage.uki=arm64";
    const uki = join(dir, "uki.efi");
    ukify(k, ["build", ...ukiInputs(k, "arm64", dir), "--cmdline", cmdline, "--output", uki], dir);
    writeFileSync(join(dir, "virt.dtb"), dumpVirtDtb("aarch64", ARM_MIB));
    const p = await plan(["--arch", "arm64", "--kernel", uki, "--dtb", join(dir, "virt.dtb"), "--exclude", `${RAM}:0x200000`]);
    expect(p.json.cmdline).toBe(cmdline);
    expect(p.json.uki.cmdlineSource).toBe(".cmdline");
    expect(p.json.uki.initrd.map((x) => [x.source, x.pad])).toEqual([[".ucode", 2], [".initrd", 0], [".extra/os-release", 0]]);
    expect(p.json.uki.envelope.verdict).toBe("unsigned");
    const tramp = RAM + 0x100000n;
    const boot = await bootQemu({
      arch: "aarch64",
      memMiB: ARM_MIB,
      blobs: [...blobs(p), { name: "trampoline", bytes: arm64Trampoline(BigInt(p.json.entry.registers.x0 ?? "0"), BigInt(p.json.entry.pc)), addr: tramp }],
      pc: tramp,
      timeoutMs: 120_000,
      until: /KIMAGE-SECOND-INIT[^\n]*\n|Kernel panic|Attempted to kill init/,
    });
    expect(boot.timedOut, boot.console.slice(-2000)).toBe(false);
    expectUkiBoot(boot.console, cmdline, "arm64");
  }, 300_000);
});

const X86_MIB = 512;
const MIB = 0x100000n;
const X86_MEMORY = `0:0x9fc00,${MIB}:${BigInt(X86_MIB) * MIB - MIB}`;
const X86_EXCLUDE: Range = { start: 0n, size: 0x10000n };

async function bootX86Plan(p: { json: PlanJson; dir: string }) {
  const firmware = buildX86Firmware({ mode: "entry64", bootParams: BigInt(p.json.entry.registers.rsi ?? "0"), entry: BigInt(p.json.entry.pc) });
  return bootX86({ firmware, memMiB: X86_MIB, blobs: blobs(p), timeoutMs: 150_000, until: /KIMAGE-SECOND-INIT[^\n]*\n|Kernel panic|Attempted to kill init/ });
}

describe.skipIf(!ready || !haveQemu("x86_64") || !haveBinutils())("a plan from an x86_64 UKI boots in QEMU", () => {
  const base = "console=ttyS0 panic=-1 kimage.mode=second kimage.uki=x86_64";
  const rescue = "console=ttyS0 panic=-1 kimage.mode=second kimage.profile=rescue";
  let uki = "";
  const x86args = () => ["--arch", "x86_64", "--kernel", uki, "--memory", X86_MEMORY, "--exclude", `${X86_EXCLUDE.start}:${X86_EXCLUDE.size}`];

  it("with the UKI's .cmdline and initrd (profile 0)", async () => {
    const k = kit as UkifyKit;
    const dir = join(work, "x86");
    const inputs = ukiInputs(k, "amd64", dir);
    const prof1 = join(dir, "profile1.efi");
    ukify(k, ["build", "--stub", k.addonStub.amd64, "--profile", "ID=rescue\nTITLE=Rescue", "--cmdline", rescue, "--output", prof1], dir);
    uki = join(dir, "uki.efi");
    ukify(k, ["build", ...inputs, "--cmdline", base, "--profile", "ID=main\nTITLE=Default", "--join-profile", prof1, "--output", uki], dir);
    const p = await plan(x86args());
    expect(p.json.uki.profile).toBe(0);
    expect(p.json.cmdline).toBe(base);
    expect(p.json.uki.initrd.map((x) => x.source)).toEqual([".ucode", ".initrd", ".extra/os-release", ".extra/profile"]);
    const boot = await bootX86Plan(p);
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectUkiBoot(boot.console, base, "x86_64-profile0");
  }, 300_000);

  it("--profile 1: profile 1's own .cmdline", async () => {
    expect(uki).not.toBe("");
    const p = await plan([...x86args(), "--profile", "1"]);
    expect(p.json.uki.profile).toBe(1);
    expect(p.json.cmdline).toBe(rescue);
    const boot = await bootX86Plan(p);
    expect(boot.timedOut, boot.console.slice(-3000)).toBe(false);
    expectUkiBoot(boot.console, rescue, "x86_64-profile1");
  }, 300_000);
});
