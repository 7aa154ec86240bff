// UKIs built by trixie's ukify from real Debian kernels (test/support/uki.ts):
// `inspect` lists every section and profile as ukify built them (compared with
// `ukify inspect --all --json`), `.linux` continues as the kernel's own layers,
// `extract --section/--profile` returns the exact bytes ukify was given, and
// `.dtbauto` is chosen as systemd-stub does.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspect } from "../../src/inspect/registry.js";
import { main } from "../../src/cli.js";
import { parsePe } from "../../src/formats/pe/parse.js";
import { effectiveSections, parseUki, ukiPart, type Uki } from "../../src/formats/pe/uki/parse.js";
import { chooseDtbauto } from "../../src/formats/pe/uki/dtb.js";
import { UNIFIED_SECTIONS } from "../../src/formats/pe/uki/spec.js";
import { removeUkis, ukiTempDir, addonUki, dtbautoUki, multiProfileUki, plainUki, ukifyInspect, ukifyKit, UKI_BOARDS, UKI_PROFILES, UKI_TEXT, type BuiltUki, type UkifyKit } from "../support/uki.js";

const kit = ukifyKit();
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Runs the CLI in-process; returns its status and standard error. */
async function cli(...argv: string[]): Promise<{ status: number; err: string; out: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const status = await main(argv, { out: (s) => void out.push(s), err: (s) => void err.push(s) });
  return { status, err: err.join("\n"), out: out.join("\n") };
}

function uki(b: BuiltUki): Uki {
  return parseUki(parsePe(b.bytes));
}

interface SectionJson {
  index: number;
  name: string;
  role: string;
  profile: number | null;
  offset: number;
  size: number;
  fileSize: number;
  sha256?: string;
  text?: string;
}

/** Every UKI section kimage lists equals ukify inspect's (size, SHA-256, text); for a repeated name ukify shows the last. */
function expectLikeUkify(k: UkifyKit, b: BuiltUki, sections: SectionJson[]): void {
  const theirs = ukifyInspect(k, b.path);
  const ours = new Map<string, SectionJson>();
  for (const s of sections) if (s.sha256 !== undefined) ours.set(s.name, s); // the last of a name, as ukify's dict
  for (const [name, t] of Object.entries(theirs)) {
    if (!UNIFIED_SECTIONS.includes(name as never)) continue;
    const o = ours.get(name);
    expect(o, name).toBeDefined();
    expect(o?.fileSize, name).toBe(t.size);
    expect(o?.sha256, name).toBe(t.sha256);
    if (t.text !== undefined) expect(o?.text, name).toBe(t.text);
  }
  expect([...ours.keys()].sort()).toEqual(Object.keys(theirs).filter((n) => UNIFIED_SECTIONS.includes(n as never)).sort());
}

describe.runIf(kit)("UKIs built by ukify", () => {
  const k = kit as UkifyKit;
  let amd64: BuiltUki;
  let arm64: BuiltUki;
  let multi: BuiltUki;
  beforeAll(() => {
    amd64 = plainUki(k, "amd64");
    arm64 = plainUki(k, "arm64");
    multi = multiProfileUki(k);
  }, 120_000);
  afterAll(removeUkis);

  for (const arch of ["amd64", "arm64"] as const) {
    it(`inspect lists a plain ${arch} UKI's sections as ukify built them, and the kernel's layers follow`, async () => {
      const b = arch === "amd64" ? amd64 : arm64;
      const r = await inspect(b.bytes, { decode: "peek" });
      const formats = r.layers.map((l) => l.format);
      expect(formats.slice(0, 3)).toEqual(["pe", "uki", "pe"]);
      expect(formats[3]).toBe(arch === "amd64" ? "bzimage" : "arm64-image");
      const layer = r.layers[1];
      const sections = layer?.fields.sections as unknown as SectionJson[];
      expectLikeUkify(k, b, sections);
      expect(layer?.fields.osrel).toEqual({ ID: "kimage", NAME: "kimage test", VERSION_ID: "14" });
      expect(layer?.fields.uname).toBe(UKI_TEXT.uname);
      expect(layer?.fields.cmdline).toBe(UKI_TEXT.cmdline);
      expect(String(layer?.fields.sbat)).toMatch(/^sbat,1,/);
      expect(layer?.fields.profiles).toEqual([]);
      // The kernel layer sits at .linux's offset in the file.
      const linux = sections.find((s) => s.name === ".linux") as SectionJson;
      expect(r.layers[2]?.offset).toBe(linux.offset);
      expect(linux.role).toBe("kernel");
      for (const s of sections) if (s.sha256) expect(s.offset + s.fileSize).toBeLessThanOrEqual(b.bytes.length);
    });
  }

  it("extract returns the exact bytes ukify was given (library and CLI)", async () => {
    for (const b of [amd64, arm64]) {
      const u = uki(b);
      for (const [name, bytes] of Object.entries(b.inputs)) expect(sha(ukiPart(u, name).data), name).toBe(sha(bytes));
    }
    const dir = ukiTempDir();
    for (const name of [".linux", ".initrd", ".cmdline"]) {
      const out = join(dir, name.slice(1));
      const r = await cli("extract", amd64.path, "--section", name, "-o", out);
      expect(r.status, r.err).toBe(0);
      expect(sha(new Uint8Array(readFileSync(out))), name).toBe(sha(amd64.inputs[name] as Uint8Array));
    }
  }, 60_000);

  it("profiles: ukify's multi-profile UKI has base + 3 profiles, each inheriting what it does not override", async () => {
    const r = await inspect(multi.bytes, { decode: "peek", stopAfter: "uki" });
    const layer = r.layers[1];
    expectLikeUkify(k, multi, layer?.fields.sections as unknown as SectionJson[]);
    const profiles = layer?.fields.profiles as { index: number; id: string; title: string; sections: { name: string }[] }[];
    expect(profiles.map((p) => [p.id, p.title])).toEqual([["main", "Default"], ["rescue", "Rescue shell"], ["debug", "Debug"]]);
    const u = uki(multi);
    for (const [i, p] of UKI_PROFILES.entries()) {
      const eff = effectiveSections(u, i);
      expect(eff.map((e) => e.name)).toEqual([".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".uname", ".sbat", ".profile"]);
      const cmdline = new TextDecoder().decode(ukiPart(u, ".cmdline", i).data);
      expect(cmdline).toBe(p.cmdline ?? UKI_TEXT.cmdline);
      expect(new TextDecoder().decode(ukiPart(u, ".profile", i).data)).toBe(p.profile);
      expect(sha(ukiPart(u, ".linux", i).data)).toBe(sha(multi.inputs[".linux"] as Uint8Array));
    }
    // The base alone has no .profile; a fourth profile does not exist.
    expect(effectiveSections(u).map((e) => e.name)).not.toContain(".profile");
    expect(() => effectiveSections(u, 3)).toThrow(/profile 3 does not exist/);
    // The CLI's --profile.
    const out = join(ukiTempDir(), "cmdline");
    const run = await cli("extract", multi.path, "--section", ".cmdline", "--profile", "1", "-o", out);
    expect(run.status, run.err).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(UKI_PROFILES[1]?.cmdline);
    // The concise inspect view names the parts, profiles and command line.
    const view = await cli("inspect", multi.path);
    expect(view.status, view.err).toBe(0);
    expect(view.out).toMatch(/layers: +pe → uki → pe → bzimage/);
    expect(view.out).toMatch(/profiles: +0=main \(Default\), 1=rescue \(Rescue shell\), 2=debug \(Debug\)\n/);
    expect(view.out).toMatch(new RegExp(`cmdline: +${JSON.stringify(UKI_TEXT.cmdline).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n`));
  }, 60_000);

  it(".dtbauto: chosen by the first-kernel DT's first compatible, or by a CHID through .hwids, as systemd-stub does", async () => {
    const b = dtbautoUki(k);
    const u = uki(b);
    const r = await inspect(b.bytes, { decode: "peek", stopAfter: "uki" });
    const fields = r.layers[1]?.fields as { dtbauto: { compatible: string }[]; hwids: { chid: string; compatible: string; name: string }[] };
    expect(fields.dtbauto.map((d) => d.compatible)).toEqual(UKI_BOARDS.map((x) => x.compatible[0]));
    expect(fields.hwids.map((h) => [h.chid, h.name, h.compatible]).sort()).toEqual(UKI_BOARDS.map((x) => [x.chid, x.name, x.compatible[0]]).sort());
    expectLikeUkify(k, b, r.layers[1]?.fields.sections as unknown as SectionJson[]);
    for (const [i, board] of UKI_BOARDS.entries()) {
      const byDt = chooseDtbauto(u, { firmwareDtb: b.dtbs[i] as Uint8Array });
      expect(byDt.by).toBe("compatible");
      expect(sha(effectiveSections(u, undefined, { dtbauto: byDt.section }).find((e) => e.name === ".dtbauto")?.data ?? new Uint8Array())).toBe(sha(b.dtbs[i] as Uint8Array));
      const byHwid = chooseDtbauto(u, { chids: ["00000000-0000-0000-0000-000000000000", board.chid] });
      expect(byHwid.by).toBe("hwid");
      expect(byHwid.section?.index).toBe(byDt.section?.index);
    }
    // A DT whose first compatible is the SoC's matches nothing ("Only matches the first compatible string").
    expect(chooseDtbauto(u, { compatible: "kimage,soc" }).section).toBeNull();
    expect(chooseDtbauto(u, { chids: ["00000000-0000-0000-0000-000000000000"] }).section).toBeNull();
  }, 60_000);

  it("an addon: only its addon sections, no kernel layer", async () => {
    const b = addonUki(k);
    const r = await inspect(b.bytes, { decode: "peek" });
    expect(r.layers.map((l) => l.format)).toEqual(["pe", "uki"]);
    expect(r.layers[1]?.fields.kind).toBe("addon");
    const u = uki(b);
    for (const [name, bytes] of Object.entries(b.inputs)) expect(sha(ukiPart(u, name).data), name).toBe(sha(bytes));
    expect(r.layers[1]?.findings.filter((f) => f.code === "uki-addon-section-ignored")).toEqual([]);
    expectLikeUkify(k, b, r.layers[1]?.fields.sections as unknown as SectionJson[]);
  }, 60_000);
});
