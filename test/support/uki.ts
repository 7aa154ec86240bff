/**
 * Test UKIs built at test time by the oracle, trixie's ukify (run from its
 * extracted .deb with Debian's python3 and python3-pefile), from real Debian
 * kernels and systemd-stubs fetched by `npm run fixtures`. Every input is
 * deterministic (fixed texts, SOURCE_DATE_EPOCH=0), and each built UKI keeps
 * the exact bytes ukify was given for each section, so tests compare
 * kimage's reading with what went in.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBytes, requireReal, type RealFixture } from "./real.js";

/** The interpreter ukify runs with: Debian's, which sees python3-pefile (a pyenv shim would not). */
export const PYTHON = "/usr/bin/python3";

/** The real files a UKI build needs. */
export interface UkifyKit {
  ukify: string;
  stub: { amd64: string; arm64: string };
  addonStub: { amd64: string; arm64: string };
  kernel: { amd64: string; arm64: string };
  /** The Debian-signed trixie amd64 kernel (its own Authenticode signature), if fetched. */
  signedKernel?: string;
}

/** A UKI ukify built, with the bytes each section was given. */
export interface BuiltUki {
  /** Where ukify wrote it. */
  path: string;
  /** Its bytes. */
  bytes: Uint8Array;
  /** Section name → the exact bytes ukify was given (base sections). */
  inputs: Record<string, Uint8Array>;
  /** Per profile (ukify's order): section name → bytes given. */
  profiles: Record<string, Uint8Array>[];
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function pick(files: RealFixture[], arch: string, re: RegExp): string | undefined {
  return files.find((f) => f.arch === arch && f.suite === "trixie" && re.test(f.path))?.abs;
}

/**
 * The ukify script, the stubs and the trixie kernels, or null (tests skip;
 * KIMAGE_REQUIRE_REAL=1 makes absence an error) when a piece is missing or
 * Debian's python3 cannot import pefile.
 */
export function ukifyKit(): UkifyKit | null {
  const tools = requireReal("ukify (trixie systemd-ukify)", (f) => f.kind === "tool" && f.path.endsWith("/ukify"));
  const stubs = requireReal("systemd-stub (trixie systemd-boot-efi)", (f) => f.kind === "stub");
  const kernels = requireReal("trixie unsigned kernels", (f) => f.kind === "kernel" && f.suite === "trixie" && f.package.endsWith("-unsigned"));
  const ukify = tools[0]?.abs;
  const signedKernel = kernels.length > 0 ? requireReal("trixie Debian-signed amd64 kernel", (f) => f.kind === "kernel" && f.suite === "trixie" && f.arch === "amd64" && f.signedPackage)[0]?.abs : undefined;
  const kit = {
    ukify,
    stub: { amd64: pick(stubs, "amd64", /\/linuxx64\.efi\.stub$/), arm64: pick(stubs, "arm64", /\/linuxaa64\.efi\.stub$/) },
    addonStub: { amd64: pick(stubs, "amd64", /\/addonx64\.efi\.stub$/), arm64: pick(stubs, "arm64", /\/addonaa64\.efi\.stub$/) },
    kernel: { amd64: pick(kernels, "amd64", /-amd64$/), arm64: pick(kernels, "arm64", /-arm64$/) },
    ...(signedKernel ? { signedKernel } : {}),
  };
  const all = [kit.ukify, kit.stub.amd64, kit.stub.arm64, kit.addonStub.amd64, kit.addonStub.arm64, kit.kernel.amd64, kit.kernel.arm64];
  if (all.some((x) => x === undefined)) return null;
  const py = spawnSync(PYTHON, ["-c", "import pefile"], { stdio: "ignore" });
  if (py.status !== 0) {
    const msg = "python3-pefile is not installed (npm run setup installs it): ukify cannot run";
    if (process.env.KIMAGE_REQUIRE_REAL === "1") throw new Error(msg);
    console.warn(`SKIP: ${msg}`);
    return null;
  }
  return kit as UkifyKit;
}

/** Runs ukify with `args` (in `cwd`); throws with its output on failure. */
export function ukify(kit: UkifyKit, args: string[], cwd: string): string {
  const r = spawnSync(PYTHON, [kit.ukify, ...args], { cwd, encoding: "utf8", env: { ...process.env, SOURCE_DATE_EPOCH: "0" }, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ukify ${args.join(" ")} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** One section of `ukify inspect --json=short --all`. */
export interface UkifySection {
  size: number;
  sha256: string;
  text?: string;
}

/** `ukify inspect --all --json=short FILE`: section name → size, SHA-256, text (a later section of the same name replaces an earlier one). */
export function ukifyInspect(kit: UkifyKit, path: string): Record<string, UkifySection> {
  const out = ukify(kit, ["inspect", path, "--all", "--json=short"], tmpdir());
  return JSON.parse(out.slice(out.indexOf("{"))) as Record<string, UkifySection>;
}

let workDir: string | undefined;
function work(): string {
  workDir ??= mkdtempSync(join(tmpdir(), "kimage-uki-"));
  return workDir;
}

/** Removes the UKIs built by this process (call from afterAll). */
export function removeUkis(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

/** A fresh temporary directory inside the builder's own (removed by {@link removeUkis}). */
export function ukiTempDir(): string {
  return mkdtempSync(join(work(), "out-"));
}

function file(dir: string, name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, typeof data === "string" ? enc(data) : data);
  return p;
}

/** The texts every test UKI carries. */
export const UKI_TEXT = {
  osrel: 'ID=kimage\nNAME="kimage test"\nVERSION_ID=14\n',
  cmdline: "console=ttyS0 console=ttyAMA0 kimage.uki=1",
  uname: "6.12.0-kimage-uki",
  initrd: "kimage uki initrd: deterministic bytes\n".repeat(7),
  ucode: "kimage uki ucode\n",
};

function build(kit: UkifyKit, name: string, args: string[], inputs: Record<string, Uint8Array>, profiles: Record<string, Uint8Array>[] = []): BuiltUki {
  const dir = join(work(), name);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.efi`);
  ukify(kit, ["build", ...args.map((a) => a.replace("@DIR@", dir)), "--output", out], dir);
  return { path: out, bytes: readBytes(out), inputs, profiles };
}

function baseArgs(kit: UkifyKit, arch: "amd64" | "arm64", dir: string): { args: string[]; inputs: Record<string, Uint8Array> } {
  const initrd = file(dir, "initrd.img", UKI_TEXT.initrd);
  const osrel = file(dir, "os-release", UKI_TEXT.osrel);
  const ucode = file(dir, "ucode.img", UKI_TEXT.ucode);
  return {
    args: ["--stub", kit.stub[arch], "--linux", kit.kernel[arch], "--initrd", initrd, "--microcode", ucode, "--cmdline", UKI_TEXT.cmdline, "--os-release", `@${osrel}`, "--uname", UKI_TEXT.uname],
    inputs: { ".linux": readBytes(kit.kernel[arch]), ".initrd": enc(UKI_TEXT.initrd), ".ucode": enc(UKI_TEXT.ucode), ".cmdline": enc(UKI_TEXT.cmdline), ".osrel": enc(UKI_TEXT.osrel), ".uname": enc(UKI_TEXT.uname) },
  };
}

function dirFor(name: string): string {
  const dir = join(work(), `${name}-inputs`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A plain UKI for `arch`: .linux, .initrd, .ucode, .cmdline, .osrel, .uname (+ the stub's .sbat). */
export function plainUki(kit: UkifyKit, arch: "amd64" | "arm64"): BuiltUki {
  const { args, inputs } = baseArgs(kit, arch, dirFor(`plain-${arch}`));
  return build(kit, `plain-${arch}`, args, inputs);
}

/** The two extra profiles of {@link multiProfileUki}: their `.profile` text and `.cmdline`. */
export const UKI_PROFILES = [
  { profile: "ID=main\nTITLE=Default", cmdline: null },
  { profile: "ID=rescue\nTITLE=Rescue shell", cmdline: "console=ttyS0 rescue systemd.unit=rescue.target" },
  { profile: "ID=debug\nTITLE=Debug", cmdline: "console=ttyS0 debug" },
];

/**
 * A multi-profile amd64 UKI in trixie ukify's syntax: the profile PEs are
 * built first (`ukify build --stub addonx64.efi.stub --profile … --cmdline …`),
 * then joined (`--profile` for the base's own `.profile`, `--join-profile`
 * for each other): profile 0 "main" inherits everything, 1 and 2 override
 * `.cmdline`.
 */
export function multiProfileUki(kit: UkifyKit): BuiltUki {
  const dir = dirFor("multi");
  const { args, inputs } = baseArgs(kit, "amd64", dir);
  const joins: string[] = [];
  const profiles: Record<string, Uint8Array>[] = [];
  for (const [i, p] of UKI_PROFILES.entries()) {
    const own: Record<string, Uint8Array> = { ".profile": enc(p.profile) };
    if (p.cmdline !== null) own[".cmdline"] = enc(p.cmdline);
    profiles.push(own);
    if (i === 0) continue;
    const out = join(dir, `profile${i}.efi`);
    ukify(kit, ["build", "--stub", kit.addonStub.amd64, "--profile", p.profile, "--cmdline", p.cmdline as string, "--output", out], dir);
    joins.push("--join-profile", out);
  }
  return build(kit, "multi", [...args, "--profile", (UKI_PROFILES[0] as { profile: string }).profile, ...joins], inputs, profiles);
}

/** The device trees of {@link dtbautoUki}: root `compatible` lists, first string first. */
export const UKI_BOARDS = [
  { file: "board-a.dtb", compatible: ["kimage,board-a", "kimage,soc"], chid: "4c6e1c0e-8c1a-5a5c-9a43-0a8b6b2f6b01", name: "Board A" },
  { file: "board-b.dtb", compatible: ["kimage,board-b", "kimage,soc"], chid: "9d1f3a52-2b7e-5f0e-8f7c-71d6e1a0c402", name: "Board B" },
];

/** A device tree blob with the given root `compatible` (compiled by dtc). */
export function boardDtb(dir: string, compatible: readonly string[], out: string): Uint8Array {
  const src = file(dir, `${out}.dts`, `/dts-v1/;\n/ {\n\tcompatible = ${compatible.map((c) => JSON.stringify(c)).join(", ")};\n\tmodel = "kimage test";\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n};\n`);
  const r = spawnSync("dtc", ["-I", "dts", "-O", "dtb", "-o", join(dir, out), src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dtc: ${r.stderr}`);
  return readBytes(join(dir, out));
}

/** An arm64 UKI with two `.dtbauto` entries and a `.hwids` table naming each board's CHID. */
export function dtbautoUki(kit: UkifyKit): BuiltUki & { dtbs: Uint8Array[] } {
  const dir = dirFor("dtbauto");
  const { args, inputs } = baseArgs(kit, "arm64", dir);
  const hw = join(dir, "hwids");
  mkdirSync(hw, { recursive: true });
  const dtbs: Uint8Array[] = [];
  const extra: string[] = [];
  for (const b of UKI_BOARDS) {
    dtbs.push(boardDtb(dir, b.compatible, b.file));
    extra.push("--devicetree-auto", join(dir, b.file));
    file(hw, `${b.file}.json`, JSON.stringify({ name: b.name, compatible: b.compatible[0], hwids: [b.chid] }));
  }
  return { ...build(kit, "dtbauto", [...args, ...extra, "--hwids", hw], inputs), dtbs };
}

/** A signed amd64 UKI: ukify signs with sbsign (`--secureboot-private-key`/`--secureboot-certificate`). */
export function signedUki(kit: UkifyKit, keyPath: string, certPath: string): BuiltUki {
  const { args, inputs } = baseArgs(kit, "amd64", dirFor("signed"));
  return build(kit, "signed", [...args, "--secureboot-private-key", keyPath, "--secureboot-certificate", certPath], inputs);
}

/**
 * A UKI around the Debian-signed amd64 kernel, its envelope signed with the
 * given key (sbsign): two signatures by two signers, the envelope's and the
 * kernel's own.
 */
export function signedKernelUki(kit: UkifyKit, keyPath: string, certPath: string): BuiltUki | null {
  if (!kit.signedKernel) return null;
  const { args, inputs } = baseArgs(kit, "amd64", dirFor("signed-kernel"));
  const i = args.indexOf("--linux");
  args[i + 1] = kit.signedKernel;
  inputs[".linux"] = readBytes(kit.signedKernel);
  return build(kit, "signed-kernel", [...args, "--secureboot-private-key", keyPath, "--secureboot-certificate", certPath], inputs);
}

/** An addon (`ukify build --stub addonx64.efi.stub`) with a `.cmdline` and an `.initrd`. */
export function addonUki(kit: UkifyKit): BuiltUki {
  const dir = dirFor("addon");
  const cmdline = "kimage.addon=1 quiet";
  const initrd = "kimage addon initrd\n";
  return build(kit, "addon", ["--stub", kit.addonStub.amd64, "--cmdline", cmdline, "--initrd", file(dir, "addon-initrd", initrd)], { ".cmdline": enc(cmdline), ".initrd": enc(initrd) });
}
