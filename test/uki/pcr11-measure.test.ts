// PCR 11 prediction against systemd-measure (bookworm's systemd 252,
// /usr/lib/systemd/systemd-measure): the same section files, every phase,
// every bank it computes. Section sets are made from real Debian kernels
// (fixtures/real) and small synthetic files.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeHashProvider } from "../../src/node/hash.js";
import { measuredSections, predictPcr11, PCR_PHASES, type Pcr11Section } from "../../src/uki/pcr11.js";
import { newcCpio } from "../support/qemu.js";
import { readBytes, requireReal } from "../support/real.js";

const MEASURE = "/usr/lib/systemd/systemd-measure";
const haveMeasure = existsSync(MEASURE);
if (!haveMeasure) {
  const msg = `peer tool ${MEASURE} is missing (Debian package systemd; .ci/run has it)`;
  if (process.env.KIMAGE_REQUIRE_REAL === "1") throw new Error(msg);
  console.warn(`SKIP: ${msg}`);
}

const dir = mkdtempSync(join(tmpdir(), "kimage-pcr11-"));
const kernel = (arch: string, suite: string) =>
  requireReal(`${suite} ${arch} kernel`, (f) => f.kind === "kernel" && f.arch === arch && f.suite === suite && !f.path.includes("16k"))[0];
const dtbs = requireReal("a Debian device tree blob", (f) => f.kind === "dtb");

/** systemd-measure calculate on the sections (written to files), as JSON. */
function measure(sections: readonly Pcr11Section[]): Record<string, Array<{ phase: string; pcr: number; hash: string }>> {
  const args = ["calculate", "--json=short"];
  for (const [i, s] of sections.entries()) {
    const p = join(dir, `s${i}${s.name}`);
    writeFileSync(p, s.data);
    args.push(`--${s.name.slice(1)}=${p}`);
  }
  const r = spawnSync(MEASURE, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`systemd-measure ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, Array<{ phase: string; pcr: number; hash: string }>>;
}

const text = (s: string) => new TextEncoder().encode(s);
const osrel = text('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n');
const initrd = newcCpio([{ name: "init", data: text("#!/bin/sh\necho hello\n"), mode: 0o100755 }]);
// A 2x1 24-bit BMP: what a .splash holds.
const bmp = Uint8Array.from([0x42, 0x4d, 0x3e, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0x18, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0x13, 0x0b, 0, 0, 0x13, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0xff, 0, 0, 0]);
const pubkey = text("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n-----END PUBLIC KEY-----\n");

interface Case {
  what: string;
  sections: () => Pcr11Section[];
}

const CASES: Case[] = [
  {
    what: "bookworm amd64 kernel, .osrel, .cmdline",
    sections: () => [
      { name: ".linux", data: readBytes(kernel("amd64", "bookworm")?.abs ?? "") },
      { name: ".osrel", data: osrel },
      { name: ".cmdline", data: text("console=ttyS0 quiet") },
    ],
  },
  {
    what: "trixie amd64 kernel, .cmdline, .initrd, .osrel (given out of order)",
    sections: () => [
      { name: ".initrd", data: initrd },
      { name: ".cmdline", data: text("root=/dev/vda1 ro\n") },
      { name: ".linux", data: readBytes(kernel("amd64", "trixie")?.abs ?? "") },
      { name: ".osrel", data: osrel },
    ],
  },
  {
    what: "trixie arm64 kernel, .dtb, .initrd, .pcrpkey, .osrel",
    sections: () => [
      { name: ".linux", data: readBytes(kernel("arm64", "trixie")?.abs ?? "") },
      { name: ".dtb", data: readBytes(dtbs[0]?.abs ?? "") },
      { name: ".initrd", data: initrd },
      { name: ".pcrpkey", data: pubkey },
      { name: ".osrel", data: osrel },
    ],
  },
  {
    what: "bookworm arm64 kernel, .splash, .cmdline, and an empty .osrel (skipped, as the stub does)",
    sections: () => [
      { name: ".linux", data: readBytes(kernel("arm64", "bookworm")?.abs ?? "") },
      { name: ".splash", data: bmp },
      { name: ".cmdline", data: text("console=ttyAMA0") },
      { name: ".osrel", data: new Uint8Array(0) },
    ],
  },
];

describe.skipIf(!haveMeasure)("PCR 11 prediction equals systemd-measure calculate", () => {
  for (const c of CASES) {
    it(c.what, async () => {
      const sections = c.sections();
      if (sections.some((s) => s.name === ".linux" && s.data.length === 0)) return; // fixture absent (requireReal warned)
      const ours = await predictPcr11(sections, { hash: nodeHashProvider });
      const theirs = measure(sections);
      expect(Object.keys(theirs)).toEqual(["sha1", "sha256", "sha384", "sha512"]);
      expect(ours).toEqual(theirs);
      for (const bank of Object.values(theirs)) expect(bank.map((v) => v.phase)).toEqual(PCR_PHASES);
    });
  }

  it("a .pcrsig is not measured, and a section the stub does not know is ignored", async () => {
    const k = kernel("amd64", "bookworm");
    if (!k) return;
    const base: Pcr11Section[] = [
      { name: ".linux", data: readBytes(k.abs) },
      { name: ".cmdline", data: text("quiet") },
    ];
    const withSig = [...base, { name: ".pcrsig", data: text("{}") }, { name: ".text", data: text("code") }];
    expect(measuredSections(withSig).map((s) => s.name)).toEqual([".linux", ".cmdline"]);
    expect(await predictPcr11(withSig, { hash: nodeHashProvider })).toEqual(measure(base));
  });

  it("a changed command line changes every value; one bank can be asked for alone", async () => {
    const k = kernel("amd64", "bookworm");
    if (!k) return;
    const linux = { name: ".linux", data: readBytes(k.abs) };
    const a = await predictPcr11([linux, { name: ".cmdline", data: text("quiet") }], { banks: ["sha256"], hash: nodeHashProvider });
    const b = await predictPcr11([linux, { name: ".cmdline", data: text("quiet ") }], { banks: ["sha256"], hash: nodeHashProvider });
    expect(Object.keys(a)).toEqual(["sha256"]);
    for (const [i, v] of (a.sha256 ?? []).entries()) expect(v.hash).not.toBe(b.sha256?.[i]?.hash);
  });

  it("two sections of one name are refused (the effective set has one per name)", async () => {
    await expect(predictPcr11([{ name: ".linux", data: text("a") }, { name: ".linux", data: text("b") }])).rejects.toMatchObject({ code: "bad-argument" });
  });
});
