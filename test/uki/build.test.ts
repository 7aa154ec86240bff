// kimage uki build against ukify (trixie's systemd-ukify and systemd-boot-efi,
// fetched as fixtures): byte-identical output for the same parts, accepted by
// `ukify inspect`, signed output accepted by `sbverify --cert`, and a boot
// under OVMF in QEMU to the UKI's command line and initrd.
//
// The stubs and ukify come from the fixtures manifest; for development before
// they are fetched, KIMAGE_UKI_TOOLS may name a directory holding the two
// packages extracted (usr/lib/systemd/ukify, usr/lib/systemd/boot/efi/*.stub).
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main, type CliIo } from "../../src/cli.js";
import { parsePe } from "../../src/formats/pe/parse.js";
import { buildUki, UKI_SBAT } from "../../src/uki/build.js";
import { profileSectionSet } from "../../src/uki/effective.js";
import { isUnifiedSection } from "../../src/uki/sections.js";
import { runQemu, tinyInitramfs } from "../support/qemu.js";
import { haveTool, readBytes, realFixtures, requireReal } from "../support/real.js";

const dir = mkdtempSync(join(tmpdir(), "kimage-uki-build-"));
const text = (s: string) => new TextEncoder().encode(s);
const toolsDir = process.env.KIMAGE_UKI_TOOLS;

function tool(re: RegExp, what: string): string | undefined {
  if (toolsDir) {
    for (const p of ["usr/lib/systemd/ukify", "usr/lib/systemd/boot/efi/linuxx64.efi.stub", "usr/lib/systemd/boot/efi/linuxaa64.efi.stub", "usr/lib/systemd/boot/efi/addonx64.efi.stub"]) {
      if (re.test(`/${p}`) && existsSync(join(toolsDir, p))) return join(toolsDir, p);
    }
  }
  return (realFixtures().find((f) => re.test(f.path)) ?? requireReal(what, (f) => re.test(f.path))[0])?.abs;
}
const ukify = tool(/\/ukify$/, "ukify (systemd-ukify)");
const stubX64 = tool(/linuxx64\.efi\.stub$/, "systemd-stub amd64 (systemd-boot-efi)");
const stubAa64 = tool(/linuxaa64\.efi\.stub$/, "systemd-stub arm64 (systemd-boot-efi)");
const addonX64 = tool(/addonx64\.efi\.stub$/, "systemd-stub amd64 addon stub (systemd-boot-efi)");
const kernel = (arch: string) => requireReal(`trixie ${arch} kernel`, (f) => f.kind === "kernel" && f.arch === arch && f.suite === "trixie" && !f.signedPackage && !f.path.includes("16k"))[0];
const dtb = requireReal("arm64 device tree", (f) => f.kind === "dtb" && f.arch === "arm64")[0];
// Debian's python3 with python3-pefile (not whatever python3 comes first in PATH).
const PYTHON = "/usr/bin/python3";
const python = spawnSync(PYTHON, ["-c", "import pefile"]).status === 0;
if (!python) {
  const msg = `${PYTHON} cannot import pefile (apt-get install python3-pefile; npm run setup does)`;
  if (process.env.KIMAGE_REQUIRE_REAL === "1") throw new Error(msg);
  console.warn(`SKIP: ${msg}`);
}

function runUkify(args: string[]): string {
  const r = spawnSync(PYTHON, [ukify ?? "", ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`ukify ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/**
 * With KIMAGE_SYSTEMD_MEASURE_NEW (a systemd-measure that knows .uname, .sbat
 * and .profile, e.g. trixie's 257), `kimage pcr11 --json` on a UKI must equal
 * it on the profile's sections; without it, nothing is compared.
 */
async function checkPcr11AgainstNewMeasure(file: string, profile: number): Promise<void> {
  const tool = process.env.KIMAGE_SYSTEMD_MEASURE_NEW;
  if (!tool) return;
  const args = ["calculate", "--json=short"];
  for (const s of profileSectionSet(parsePe(readBytes(file)), profile).sections) {
    if (![".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey", ".profile"].includes(s.name)) continue;
    const p = join(dir, `measure-${profile}${s.name}`);
    writeFileSync(p, s.data);
    args.push(`--${s.name.slice(1)}=${p}`);
  }
  const theirs = spawnSync(tool, args, { encoding: "utf8" });
  expect(theirs.status, theirs.stderr).toBe(0);
  const ours = await cli("pcr11", file, "--profile", String(profile), "--json");
  expect(JSON.parse(ours.out)).toEqual(JSON.parse(theirs.stdout));
}

async function cli(...args: string[]): Promise<{ code: number; err: string; out: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s) };
  return { code: await main(args, io), out: out.join("\n"), err: err.join("\n") };
}

const osrel = join(dir, "os-release");
writeFileSync(osrel, 'ID=debian\nVERSION_ID="13"\n');
const initrdA = join(dir, "a.cpio");
const initrdB = join(dir, "b.cpio");
writeFileSync(initrdA, tinyInitramfs());
writeFileSync(initrdB, new Uint8Array(29).fill(0x41)); // 29 bytes: ukify pads each initrd to 4
const pcrpkey = join(dir, "pcrpkey.pem");
writeFileSync(pcrpkey, "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n");

const cases = [
  { arch: "amd64", stub: stubX64, extra: [] as string[] },
  { arch: "arm64", stub: stubAa64, extra: dtb ? [`--devicetree=${dtb.abs}`] : [] },
];

describe.skipIf(!ukify || !python)("kimage uki build equals ukify build", () => {
  for (const c of cases) {
    it(`${c.arch}: the same bytes as ukify for the same parts; ukify inspect reads it`, async () => {
      const k = kernel(c.arch);
      if (!k || !c.stub) return;
      const common = [`--linux=${k.abs}`, `--initrd=${initrdA}`, `--initrd=${initrdB}`, "--cmdline=console=ttyS0 quiet", `--os-release=@${osrel}`, "--uname=6.12.0-test", `--pcrpkey=${pcrpkey}`, ...c.extra];
      runUkify(["build", `--stub=${c.stub}`, ...common, `--output=${join(dir, `ukify-${c.arch}.efi`)}`]);
      const r = await cli("uki", "build", `--stub=${c.stub}`, ...common, "-o", join(dir, `kimage-${c.arch}.efi`));
      expect(r.code, r.err).toBe(0);
      const ours = readBytes(join(dir, `kimage-${c.arch}.efi`));
      const theirs = readBytes(join(dir, `ukify-${c.arch}.efi`));
      expect(ours.length).toBe(theirs.length);
      expect(Buffer.compare(ours, theirs)).toBe(0);
      await checkPcr11AgainstNewMeasure(join(dir, `ukify-${c.arch}.efi`), 0);
      const inspected = JSON.parse(runUkify(["inspect", join(dir, `kimage-${c.arch}.efi`), "--json=short"])) as Record<string, { size: number; text?: string }>;
      expect(Object.keys(inspected)).toEqual(expect.arrayContaining([".linux", ".initrd", ".cmdline", ".osrel", ".uname", ".sbat", ".pcrpkey"]));
      expect(inspected[".cmdline"]?.text).toBe("console=ttyS0 quiet");
      // The two initrds joined as ukify joins them, each padded to 4 bytes.
      const eff = profileSectionSet(parsePe(ours));
      const initrd = eff.sections.find((s) => s.name === ".initrd")?.data ?? new Uint8Array();
      expect(initrd.length).toBe(Math.ceil(tinyInitramfs().length / 4) * 4 + 32);
      expect(initrd.subarray(initrd.length - 3)).toEqual(new Uint8Array(3));
    });
  }

  it("without --uname both find the kernel's release the same way (x86 header, arm64 banner)", async () => {
    for (const c of cases) {
      const k = kernel(c.arch);
      if (!k || !c.stub) continue;
      // (ukify reads the host's /etc/os-release when none is given; kimage takes host facts as arguments only.)
      runUkify(["build", `--stub=${c.stub}`, `--linux=${k.abs}`, "--cmdline=quiet", `--os-release=@${osrel}`, `--output=${join(dir, `ukify-nouname-${c.arch}.efi`)}`]);
      const r = await cli("uki", "build", `--stub=${c.stub}`, `--linux=${k.abs}`, "--cmdline=quiet", `--os-release=@${osrel}`, "-o", join(dir, `kimage-nouname-${c.arch}.efi`));
      expect(r.code, r.err).toBe(0);
      const ours = readBytes(join(dir, `kimage-nouname-${c.arch}.efi`));
      expect(Buffer.compare(ours, readBytes(join(dir, `ukify-nouname-${c.arch}.efi`)))).toBe(0);
      const uname = profileSectionSet(parsePe(ours)).sections.find((s) => s.name === ".uname");
      expect(new TextDecoder().decode(uname?.data)).toMatch(/^\d+\.\d+/);
    }
  });

  it("an addon, and two profiles (profile PEs on the addon stub, joined): the same bytes as ukify; each profile's effective set", async () => {
    const k = kernel("amd64");
    if (!k || !stubX64 || !addonX64) return;
    const profiles = [
      ["ID=one\nTITLE=Profile one", "console=ttyS0 one"],
      ["ID=two\nTITLE=Profile two", "console=ttyS0 two"],
    ];
    const pes: string[] = [];
    for (const [i, [profile, cmdline]] of profiles.entries()) {
      const theirs = join(dir, `ukify-p${i}.efi`);
      const ours = join(dir, `kimage-p${i}.efi`);
      runUkify(["build", `--stub=${addonX64}`, `--profile=${profile}`, `--cmdline=${cmdline}`, `--output=${theirs}`]);
      const r = await cli("uki", "build", "--stub", addonX64 ?? "", "--profile", profile ?? "", "--cmdline", cmdline ?? "", "-o", ours);
      expect(r.code, r.err).toBe(0);
      expect(Buffer.compare(readBytes(ours), readBytes(theirs))).toBe(0);
      pes.push(ours);
    }
    // A .cmdline addon (no kernel, no profile): ukify's addon SBAT, nothing from the stub's.
    runUkify(["build", `--stub=${addonX64}`, "--cmdline=debug", `--output=${join(dir, "ukify-addon.efi")}`]);
    expect((await cli("uki", "build", "--stub", addonX64 ?? "", "--cmdline", "debug", "-o", join(dir, "kimage-addon.efi"))).code).toBe(0);
    expect(Buffer.compare(readBytes(join(dir, "kimage-addon.efi")), readBytes(join(dir, "ukify-addon.efi")))).toBe(0);
    const common = [`--linux=${k.abs}`, "--cmdline=console=ttyS0 base", `--os-release=@${osrel}`, "--uname=6.12.0-test", "--profile=ID=main\nTITLE=Base", ...pes.map((p) => `--join-profile=${p}`)];
    runUkify(["build", `--stub=${stubX64}`, ...common, `--output=${join(dir, "ukify-multi.efi")}`]);
    const r = await cli("uki", "build", `--stub=${stubX64}`, ...common, "-o", join(dir, "kimage-multi.efi"));
    expect(r.code, r.err).toBe(0);
    const ours = readBytes(join(dir, "kimage-multi.efi"));
    expect(Buffer.compare(ours, readBytes(join(dir, "ukify-multi.efi")))).toBe(0);
    const pe = parsePe(ours);
    const cmdline = (p: number) => new TextDecoder().decode(profileSectionSet(pe, p).sections.find((s) => s.name === ".cmdline")?.data);
    const profileText = (p: number) => new TextDecoder().decode(profileSectionSet(pe, p).sections.find((s) => s.name === ".profile")?.data);
    expect([0, 1, 2].map(cmdline)).toEqual(["console=ttyS0 base", "console=ttyS0 one", "console=ttyS0 two"]);
    expect([0, 1, 2].map(profileText)).toEqual(["ID=main\nTITLE=Base", "ID=one\nTITLE=Profile one", "ID=two\nTITLE=Profile two"]);
    expect(profileSectionSet(pe, 2).sections.map((s) => s.name).filter(isUnifiedSection)).toEqual([".sbat", ".osrel", ".uname", ".linux", ".profile", ".cmdline"]);
    for (const p of [0, 1, 2]) await checkPcr11AgainstNewMeasure(join(dir, "ukify-multi.efi"), p);
    const p1 = await cli("pcr11", join(dir, "kimage-multi.efi"), "--profile", "1", "--json");
    const p2 = await cli("pcr11", join(dir, "kimage-multi.efi"), "--profile", "2", "--json");
    expect(p1.code, p1.err).toBe(0);
    expect(p1.out).not.toBe(p2.out);
    expect((await cli("pcr11", join(dir, "kimage-multi.efi"), "--profile", "3")).err).toMatch(/uki-no-profile/);
  });

  it("signed with --key/--cert: sbverify --cert accepts it", async () => {
    const k = kernel("amd64");
    if (!k || !stubX64 || !haveTool("sbverify", ["--help"]) || !haveTool("openssl", ["version"])) return;
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kimage uki build", "-days", "2", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem")], { stdio: "ignore" });
    const out = join(dir, "signed.efi");
    const r = await cli("uki", "build", "--stub", stubX64, "--linux", k.abs, "--cmdline", "console=ttyS0", "--key", join(dir, "k.pem"), "--cert", join(dir, "c.pem"), "-o", out);
    expect(r.code, r.err).toBe(0);
    expect(execFileSync("sbverify", ["--cert", join(dir, "c.pem"), out], { encoding: "utf8" })).toMatch(/Signature verification OK/);
    expect(spawnSync("sbverify", ["--cert", join(dir, "c.pem"), join(dir, "kimage-amd64.efi")]).status).not.toBe(0);
  });
});

describe.skipIf(!stubX64)("buildUki: refusals", () => {
  it("a signed stub, an SBAT text without its sbat line, a stub with no header room", () => {
    const stub = readBytes(stubX64 ?? "");
    expect(() => buildUki(stub, { linux: text("k"), sbat: ["uki,1,UKI"] })).toThrowError(expect.objectContaining({ code: "bad-argument" }) as Error);
    const parts = { linux: text("kernel"), sbat: [UKI_SBAT] };
    const once = buildUki(stub, parts);
    // A UKI as a stub is allowed (ukify too), but a signed one is not.
    const signedLike = once.slice();
    const pe = parsePe(once);
    const entry = pe.layout.certDirectoryEntry ?? 0;
    const table = new Uint8Array(signedLike.length + 16);
    table.set(signedLike);
    const v = new DataView(table.buffer);
    v.setUint32(entry, signedLike.length, true);
    v.setUint32(entry + 4, 16, true);
    v.setUint32(signedLike.length, 16, true);
    v.setUint16(signedLike.length + 4, 0x0200, true);
    v.setUint16(signedLike.length + 6, 0x0002, true);
    expect(() => buildUki(table, parts)).toThrowError(/stub is signed/);
    // Headers fill up: add sections until the header space is gone.
    // (.dtbauto is the one name ukify never swaps into an existing section.)
    expect(() => buildUki(stub, { linux: text("kernel"), dtbauto: Array.from({ length: 64 }, () => text("dtb")) })).toThrowError(/not enough header space/);
    // A hostile FileAlignment (1 MiB) would pad every part to it: refused.
    const wide = stub.slice();
    new DataView(wide.buffer).setUint32(parsePe(stub).layout.optionalHeader + 36, 0x100000, true);
    expect(() => buildUki(wide, parts)).toThrowError(expect.objectContaining({ code: "bad-argument" }) as Error);
  });
});

const ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const ovmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd";

describe.skipIf(!stubX64 || !existsSync(ovmfCode) || spawnSync("qemu-system-x86_64", ["--version"]).status !== 0)("a built UKI boots under OVMF", () => {
  it("x86_64: the kernel runs with the UKI's command line and its initrd", async () => {
    const k = kernel("amd64");
    if (!k) return;
    const esp = join(dir, "esp");
    mkdirSync(join(esp, "EFI", "BOOT"), { recursive: true });
    const r = await cli("uki", "build", "--stub", stubX64 ?? "", "--linux", k.abs, "--initrd", initrdA, "--cmdline", "console=ttyS0 kimage.uki=built-by-kimage panic=-1", "--os-release", `@${osrel}`, "-o", join(esp, "EFI", "BOOT", "BOOTX64.EFI"));
    expect(r.code, r.err).toBe(0);
    copyFileSync(ovmfVars, join(dir, "vars.fd"));
    const boot = await runQemu(
      "qemu-system-x86_64",
      ["-M", "q35", "-m", "1024", "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio",
        "-drive", `if=pflash,format=raw,readonly=on,file=${ovmfCode}`, "-drive", `if=pflash,format=raw,file=${join(dir, "vars.fd")}`,
        "-drive", `file=fat:rw:${esp},format=raw,media=disk`],
      { timeoutMs: 240_000, until: /Kernel panic|Failed to execute \/init[^\n]*\n/ },
    );
    const console = boot.console.replace(/\r/g, "");
    expect(console, console.slice(-3000)).toMatch(/Kernel command line: console=ttyS0 kimage\.uki=built-by-kimage panic=-1/);
    // The UKI's initrd reached the kernel: it unpacked it and tried its /init.
    expect(console).toMatch(/Run \/init as init process/);
    expect(readFileSync(join(esp, "EFI", "BOOT", "BOOTX64.EFI")).length).toBeGreaterThan(k ? 1 << 20 : 0);
  }, 300_000);
});
