// `kimage pcr11` on UKIs: the profile rule, VirtualSize zero fill and hostile
// tables; the values against systemd-measure (bookworm's 252 for the
// sections it knows; a newer one, when KIMAGE_SYSTEMD_MEASURE_NEW names it,
// for .profile, .uname, .sbat and .ucode).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main, type CliIo } from "../../src/cli.js";
import { countProfiles, profileSections } from "../../src/uki/profiles.js";
import { buildPe, SCN_RDATA, SCN_TEXT } from "../support/pe-builder.js";
import { readBytes, requireReal } from "../support/real.js";

const MEASURE = "/usr/lib/systemd/systemd-measure";
const NEW_MEASURE = process.env.KIMAGE_SYSTEMD_MEASURE_NEW;
const dir = mkdtempSync(join(tmpdir(), "kimage-pcr11-uki-"));
const text = (s: string) => new TextEncoder().encode(s);

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s) };
  const code = await main(args, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function measure(tool: string, sections: ReadonlyArray<{ name: string; data: Uint8Array }>): unknown {
  const args = ["calculate", "--json=short"];
  for (const [i, s] of sections.entries()) {
    const p = join(dir, `m${i}${s.name}`);
    writeFileSync(p, s.data);
    args.push(`--${s.name.slice(1)}=${p}`);
  }
  const r = spawnSync(tool, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function writeUki(name: string, sections: Array<{ name: string; data: Uint8Array; virtualSize?: number }>): string {
  const pe = buildPe({
    sections: [{ name: ".text", data: 0x400, characteristics: SCN_TEXT }, ...sections.map((s) => ({ ...s, characteristics: SCN_RDATA }))],
  });
  const p = join(dir, name);
  writeFileSync(p, pe.bytes);
  return p;
}

const names = (list: ReadonlyArray<{ ShortName: string }>) => list.map((s) => s.ShortName);
const table = (...n: string[]) => n.map((ShortName, i) => ({ ShortName, i }));

describe("the profile rule (UAPI UKI spec, systemd-stub's pe.c)", () => {
  const t = table(".linux", ".osrel", ".cmdline", ".profile", ".cmdline", ".profile", ".initrd", ".cmdline", ".cmdline", ".dtbauto", ".profile");
  it("sections before the first .profile are the base; a profile inherits what it does not override", () => {
    expect(countProfiles(t)).toBe(3);
    expect(names(profileSections(t, null))).toEqual([".linux", ".osrel", ".cmdline"]);
    const p0 = profileSections(t, 0);
    expect(names(p0)).toEqual([".linux", ".osrel", ".profile", ".cmdline"]);
    expect(p0.find((s) => s.ShortName === ".cmdline")?.i).toBe(4);
    // Profile 1: its first .cmdline wins over its second and over the base's.
    const p1 = profileSections(t, 1);
    expect(names(p1)).toEqual([".linux", ".osrel", ".profile", ".initrd", ".cmdline", ".dtbauto"]);
    expect(p1.find((s) => s.ShortName === ".cmdline")?.i).toBe(7);
    // An empty trailing profile: the base plus its .profile.
    expect(names(profileSections(t, 2))).toEqual([".linux", ".osrel", ".cmdline", ".profile"]);
  });
  it("profile 0 of a UKI without .profile is the base; a missing profile is an error", () => {
    const plain = table(".linux", ".cmdline");
    expect(names(profileSections(plain, 0))).toEqual([".linux", ".cmdline"]);
    expect(() => profileSections(plain, 1)).toThrowError(expect.objectContaining({ code: "uki-no-profile" }) as Error);
    expect(() => profileSections(t, 3)).toThrowError(expect.objectContaining({ code: "uki-no-profile" }) as Error);
    expect(() => profileSections(t, -1)).toThrowError(expect.objectContaining({ code: "bad-argument" }) as Error);
  });
  it("device-matched .dtbauto candidates: all kept, the profile's first, then the base's", () => {
    const d = table(".linux", ".dtbauto", ".dtbauto", ".profile", ".dtbauto");
    expect(profileSections(d, 0).filter((s) => s.ShortName === ".dtbauto").map((s) => s.i)).toEqual([4, 1, 2]);
  });
});

const kernels = requireReal("bookworm amd64 kernel", (f) => f.kind === "kernel" && f.arch === "amd64" && f.suite === "bookworm");

describe.skipIf(kernels.length === 0 || !existsSync(MEASURE))("kimage pcr11 on a UKI, against systemd-measure", () => {
  it("a VirtualSize larger than the raw data is measured zero-filled, as the stub loads it", async () => {
    const linux = readBytes(kernels[0]?.abs ?? "");
    const cmdline = text("console=ttyS0");
    const p = writeUki("zf.efi", [
      { name: ".osrel", data: text("ID=debian\n") },
      { name: ".cmdline", data: cmdline, virtualSize: 0x300 },
      { name: ".linux", data: linux },
      { name: ".initrd", data: text("070701") },
      { name: ".pcrsig", data: text("{}") },
    ]);
    const r = await cli("pcr11", p, "--json");
    expect(r.code, r.err).toBe(0);
    const padded = new Uint8Array(0x300);
    padded.set(cmdline);
    expect(JSON.parse(r.out)).toEqual(
      measure(MEASURE, [
        { name: ".linux", data: linux },
        { name: ".osrel", data: text("ID=debian\n") },
        { name: ".cmdline", data: padded },
        { name: ".initrd", data: text("070701") },
      ]),
    );
    const one = await cli("pcr11", p, "--json", "--bank", "sha384");
    expect(Object.keys(JSON.parse(one.out) as object)).toEqual(["sha384"]);
    const human = await cli("pcr11", p);
    expect(human.out).toMatch(/measured: \.linux .*\.osrel .*\.cmdline \(768 bytes\), \.initrd/);
  });

  it("per profile: profile 1 overrides .cmdline, inherits .linux and .osrel", async () => {
    const linux = readBytes(kernels[0]?.abs ?? "");
    const p = writeUki("prof.efi", [
      { name: ".linux", data: linux },
      { name: ".osrel", data: text("ID=debian\n") },
      { name: ".cmdline", data: text("base") },
      { name: ".profile", data: text("ID=zero\n") },
      { name: ".profile", data: text("ID=one\nTITLE=One\n") },
      { name: ".cmdline", data: text("one") },
      { name: ".cmdline", data: text("ignored: the first .cmdline of a profile wins") },
    ]);
    const r = await cli("pcr11", p, "--json", "--profile", "1");
    expect(r.code, r.err).toBe(0);
    if (NEW_MEASURE) {
      expect(JSON.parse(r.out)).toEqual(
        measure(NEW_MEASURE, [
          { name: ".linux", data: linux },
          { name: ".osrel", data: text("ID=debian\n") },
          { name: ".cmdline", data: text("one") },
          { name: ".profile", data: text("ID=one\nTITLE=One\n") },
        ]),
      );
    }
    const p0 = await cli("pcr11", p, "--json", "--profile", "0");
    expect(p0.out).not.toBe(r.out);
    const none = await cli("pcr11", p, "--profile", "2");
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/uki-no-profile/);
  });

  it(".dtbauto candidates are measured only when told which one the machine matched", async () => {
    const { predictPcr11 } = await import("../../src/uki/pcr11.js");
    const { nodeHashProvider } = await import("../../src/node/hash.js");
    const p = writeUki("dtbauto.efi", [
      { name: ".linux", data: text("kernel") },
      { name: ".dtbauto", data: text("first device tree") },
      { name: ".dtbauto", data: text("second device tree") },
    ]);
    const none = await cli("pcr11", p);
    expect(none.out).toMatch(/not measured: 2 \.dtbauto\/\.efifw candidate/);
    const second = await cli("pcr11", p, "--dtbauto", "1", "--json");
    expect(JSON.parse(second.out)).toEqual(await predictPcr11([{ name: ".linux", data: text("kernel") }, { name: ".dtbauto", data: text("second device tree") }], { hash: nodeHashProvider }));
    expect((await cli("pcr11", p, "--json")).out).toBe(JSON.stringify(await predictPcr11([{ name: ".linux", data: text("kernel") }], { hash: nodeHashProvider })));
    expect((await cli("pcr11", p, "--dtbauto", "2")).code).toBe(2);
  });

  it("hostile tables: no .linux, a VirtualSize of 4 GiB; usage errors", async () => {
    const noLinux = writeUki("nolinux.efi", [{ name: ".cmdline", data: text("x") }]);
    expect((await cli("pcr11", noLinux)).err).toMatch(/uki-no-linux/);
    const huge = writeUki("huge.efi", [{ name: ".linux", data: text("k"), virtualSize: 0xffffffff }]);
    const h = await cli("pcr11", huge);
    expect(h.code).toBe(1);
    expect(h.err).toMatch(/limit/);
    // 32 MiB of zero fill behind 1 byte: refused before allocating it.
    const fill = writeUki("fill.efi", [{ name: ".linux", data: text("k"), virtualSize: 32 << 20 }]);
    const f = await cli("pcr11", fill);
    expect(f.code).toBe(1);
    expect(f.err).toMatch(/limit .*zero-fill/);
    expect((await cli("pcr11", noLinux, "--bank", "md5")).code).toBe(2);
    expect((await cli("pcr11", noLinux, "--profile", "x")).code).toBe(2);
  });
});

describe.skipIf(!NEW_MEASURE)("sections systemd 252 does not know, against a newer systemd-measure (KIMAGE_SYSTEMD_MEASURE_NEW)", () => {
  it(".ucode, .uname, .sbat, .profile in the stub's order", async () => {
    const { predictPcr11 } = await import("../../src/uki/pcr11.js");
    const { nodeHashProvider } = await import("../../src/node/hash.js");
    const s = [
      { name: ".profile", data: text("ID=a\n") },
      { name: ".sbat", data: text("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n") },
      { name: ".uname", data: text("6.12.0-test") },
      { name: ".ucode", data: text("ucode") },
      { name: ".linux", data: text("kernel") },
      { name: ".cmdline", data: text("quiet") },
    ];
    expect(await predictPcr11(s, { hash: nodeHashProvider })).toEqual(measure(NEW_MEASURE ?? "", s));
  });
});
