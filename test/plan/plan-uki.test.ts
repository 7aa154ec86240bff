// Plans from ukify-built UKIs (trixie ukify, real Debian kernels): the inputs
// a plan takes are exactly the bytes ukify was given, in systemd-stub's order
// with its padding; the stub's generated `/.extra` cpios read back with GNU
// cpio; profiles, .dtbauto, addons, the caller's command line; and the
// envelope's verdict with and without trust anchors (never a bare boolean).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { isKimageError } from "../../src/core/errors.js";
import { parseFdt } from "../../src/fdt/parse.js";
import { findChild, getStringList } from "../../src/fdt/tree.js";
import { parsePe } from "../../src/formats/pe/parse.js";
import { parseUki } from "../../src/formats/pe/uki/parse.js";
import { nodeHashProvider } from "../../src/node/hash.js";
import { mangleStubCmdline, planFromUki, STUB_RULES, stubCpioLiteral, ukiPlanInputs, type UkiPlanInputs } from "../../src/plan/uki.js";
import { makePki, type Pki } from "../support/sign-pki.js";
import { addonUki, boardDtb, dtbautoUki, multiProfileUki, plainUki, removeUkis, signedUki, ukifyKit, UKI_BOARDS, UKI_PROFILES, UKI_TEXT, ukify, type BuiltUki, type UkifyKit } from "../support/uki.js";

const kit = ukifyKit();
const enc = (s: string) => new TextEncoder().encode(s);
const tmp = mkdtempSync(join(tmpdir(), "kimage-plan-uki-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** GNU cpio's reading of an archive: the `-itv` listing and one member's content. */
function gnuCpio(archive: Uint8Array, member: string): { list: string; content: string } {
  const f = join(tmp, `a-${Math.random().toString(36).slice(2)}.cpio`);
  writeFileSync(f, archive);
  const list = spawnSync("sh", ["-c", `cpio -itv --quiet < "${f}"`], { encoding: "utf8" });
  const content = spawnSync("sh", ["-c", `cpio -i --to-stdout --quiet "${member}" < "${f}"`], { encoding: "utf8" });
  expect(list.status, list.stderr).toBe(0);
  return { list: list.stdout, content: content.stdout };
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;
/** Byte equality without vitest's element-by-element deep compare (a kernel is megabytes). */
const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) => a !== undefined && b !== undefined && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

describe("systemd-stub's command line and cpio rules", () => {
  it("mangles the command line as mangle_stub_cmdline", () => {
    expect(mangleStubCmdline("  a\tb\n\nc \r\n")).toBe("a b  c");
    expect(mangleStubCmdline("x\x7fy\0ignored")).toBe("x y");
    expect(mangleStubCmdline(" \n\t")).toBe("");
  });

  it.runIf(spawnSync("cpio", ["--version"]).status === 0)("pack_cpio_literal's archive reads back with GNU cpio", () => {
    for (const data of ["", "a", "ab", "abc", "ID=x\nTITLE=y\n"]) {
      const a = stubCpioLiteral("os-release", enc(data));
      expect(a.length % 4).toBe(0);
      const r = gnuCpio(a, ".extra/os-release");
      expect(r.list).toMatch(/^dr-xr-xr-x .* \.extra$/m);
      expect(r.list).toMatch(/^-r--r--r-- .* \.extra\/os-release$/m);
      expect(r.content).toBe(data);
    }
  });
});

describe.runIf(kit)("plan inputs from ukify-built UKIs", () => {
  const k = kit as UkifyKit;
  let plain: BuiltUki;
  let multi: BuiltUki;
  let pki: Pki;
  let signed: BuiltUki;
  beforeAll(() => {
    plain = plainUki(k, "amd64");
    multi = multiProfileUki(k);
    pki = makePki();
    signed = signedUki(k, pki.leaf.keyPath, pki.leaf.certPath);
  }, 240_000);
  afterAll(() => {
    pki?.cleanup();
    removeUkis();
  });

  const expectParts = (p: UkiPlanInputs, parts: [string, Uint8Array][]) => {
    expect(p.initrdParts.map((x) => x.source)).toEqual(parts.map(([s]) => s));
    let at = 0;
    for (const [i, [, data]] of parts.entries()) {
      const part = p.initrdParts[i]!;
      expect(part.at).toBe(at);
      expect(part.length).toBe(data.length);
      expect(part.pad).toBe(pad4(data.length));
      expect(same(p.initrd!.subarray(at, at + data.length), data)).toBe(true);
      expect(p.initrd!.subarray(at + data.length, at + data.length + part.pad).every((b) => b === 0)).toBe(true);
      at += data.length + part.pad;
    }
    expect(p.initrd!.length).toBe(at);
  };

  it("kernel = .linux, initrd = .ucode, .initrd, /.extra/os-release (each padded to 4), cmdline = .cmdline", async () => {
    const p = await ukiPlanInputs(plain.bytes, { verify: { hash: nodeHashProvider } });
    expect(same(p.kernel, plain.inputs[".linux"])).toBe(true);
    expect(p.cmdline).toBe(UKI_TEXT.cmdline);
    expect(p.cmdlineSource).toBe(".cmdline");
    expectParts(p, [
      [".ucode", enc(UKI_TEXT.ucode)],
      [".initrd", enc(UKI_TEXT.initrd)],
      [".extra/os-release", stubCpioLiteral("os-release", enc(UKI_TEXT.osrel))],
    ]);
    expect(p.dtb).toBeNull();
    // trixie's stub: the rules followed are its own, so no version note.
    expect(p.stub).toMatch(new RegExp(`^systemd-stub ${STUB_RULES}\\b`));
    expect(p.notes.some((n) => n.startsWith("stub:"))).toBe(false);
    expect(p.profile).toBe(0);
  }, 60_000);

  it("the caller's command line replaces .cmdline (mangled); a missing profile is a typed error", async () => {
    const p = await ukiPlanInputs(plain.bytes, { cmdline: " console=ttyS0\tquiet \n", verify: { hash: nodeHashProvider } });
    expect(p.cmdline).toBe("console=ttyS0 quiet");
    expect(p.cmdlineSource).toBe("override");
    const e = await ukiPlanInputs(plain.bytes, { profile: 3 }).catch((x: unknown) => x);
    expect(isKimageError(e) && e.code).toBe("bad-argument");
  }, 60_000);

  it("profiles: profile 1 and 2 use their own .cmdline, profile 0 the base's; /.extra/profile is the profile's", async () => {
    for (const [i, p] of UKI_PROFILES.entries()) {
      const r = await ukiPlanInputs(multi.bytes, { profile: i, verify: { hash: nodeHashProvider } });
      expect(r.profile).toBe(i);
      expect(r.cmdline).toBe(p.cmdline ?? UKI_TEXT.cmdline);
      expect(r.cmdlineSource).toBe(".cmdline");
      expect(r.profileId).toBe(/ID=(\w+)/.exec(p.profile)?.[1]);
      expectParts(r, [
        [".ucode", enc(UKI_TEXT.ucode)],
        [".initrd", enc(UKI_TEXT.initrd)],
        [".extra/os-release", stubCpioLiteral("os-release", enc(UKI_TEXT.osrel))],
        [".extra/profile", stubCpioLiteral("profile", multi.profiles[i]![".profile"]!)],
      ]);
    }
  }, 120_000);

  it("envelope: valid against its anchor; without one the verdict names the missing anchor; a tampered .cmdline fails", async () => {
    const good = await ukiPlanInputs(signed.bytes, { verify: { trust: [pki.root.certDer], hash: nodeHashProvider } });
    expect(good.envelope.verdict).toBe("valid");
    expect(good.envelope.anchors).toEqual([expect.stringContaining("kimage Test Root CA")]);
    expect(good.envelope.missingAnchors).toEqual([]);
    expect(good.envelope.partsCovered).toBe(true);

    const none = await ukiPlanInputs(signed.bytes, { verify: { hash: nodeHashProvider } });
    expect(none.envelope.verdict).toBe("untrusted");
    expect(none.envelope.anchors).toEqual([]);
    expect(none.envelope.missingAnchors).toEqual([expect.stringContaining("kimage Test Root CA")]);
    expect(none.envelope.detail).toMatch(/no trust anchor was given/);

    const cmd = parseUki(parsePe(signed.bytes)).sections.find((s) => s.name === ".cmdline")!;
    const tampered = signed.bytes.slice();
    tampered[cmd.PointerToRawData] = (tampered[cmd.PointerToRawData] as number) ^ 0x01;
    const bad = await ukiPlanInputs(tampered, { verify: { trust: [pki.root.certDer], hash: nodeHashProvider } });
    expect(bad.envelope.verdict).not.toBe("valid");

    const unsigned = await ukiPlanInputs(plain.bytes, { verify: { trust: [pki.root.certDer], hash: nodeHashProvider } });
    expect(unsigned.envelope.verdict).toBe("unsigned");
  }, 120_000);

  it("addons: .cmdline appended, .initrd last; an addon alone cannot be planned", async () => {
    const addon = addonUki(k);
    const p = await ukiPlanInputs(plain.bytes, { addons: [{ name: "extra.addon.efi", bytes: addon.bytes }], verify: { hash: nodeHashProvider } });
    expect(p.cmdline).toBe(`${UKI_TEXT.cmdline} ${new TextDecoder().decode(addon.inputs[".cmdline"])}`);
    expect(p.initrdParts.at(-1)?.source).toBe("addon:extra.addon.efi:.initrd");
    expect(same(p.initrd!.subarray(p.initrdParts.at(-1)!.at), Uint8Array.from([...addon.inputs[".initrd"]!, ...new Uint8Array(pad4(addon.inputs[".initrd"]!.length))]))).toBe(true);
    expect(p.addons).toEqual([expect.objectContaining({ name: "extra.addon.efi", used: true, verdict: "unsigned" })]);
    const e = await ukiPlanInputs(addon.bytes).catch((x: unknown) => x);
    expect(isKimageError(e) && e.code).toBe("unsupported");
  }, 120_000);

  it("dtb: the .dtbauto matching the first kernel's compatible, with the first kernel's /memory", async () => {
    const d = dtbautoUki(k);
    const fw = boardDtb(tmp, UKI_BOARDS[1]!.compatible, "fw-b.dtb");
    const p = await ukiPlanInputs(d.bytes, { dtbauto: { firmwareDtb: fw }, verify: { hash: nodeHashProvider } });
    expect(p.dtb?.source).toBe(".dtbauto");
    expect(p.dtb?.choice?.by).toBe("compatible");
    expect(same(p.dtb?.bytes, d.dtbs[1])).toBe(true); // the firmware DT has no /memory: nothing to copy
    // A firmware DT with /memory: the UKI's DT gains it.
    const src = join(tmp, "fw-mem.dts");
    writeFileSync(src, `/dts-v1/;\n/ {\n\tcompatible = "${UKI_BOARDS[0]!.compatible[0]}";\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n\tmemory@40000000 {\n\t\tdevice_type = "memory";\n\t\treg = <0x0 0x40000000 0x0 0x40000000>;\n\t};\n};\n`);
    expect(spawnSync("dtc", ["-I", "dts", "-O", "dtb", "-o", join(tmp, "fw-mem.dtb"), src]).status).toBe(0);
    const withMem = await ukiPlanInputs(d.bytes, { dtbauto: { firmwareDtb: new Uint8Array(readFileSync(join(tmp, "fw-mem.dtb"))) }, verify: { hash: nodeHashProvider } });
    const t = parseFdt(withMem.dtb!.bytes);
    expect(getStringList(t.root, "compatible")?.[0]).toBe(UKI_BOARDS[0]!.compatible[0]);
    expect(findChild(t.root, "memory@40000000")).toBeDefined();
    // The library's plan: the arm64 plan's DT is the UKI's (its /chosen filled in), memory from the first kernel's.
    const { plan } = await planFromUki("arm64", d.bytes, { dtb: new Uint8Array(readFileSync(join(tmp, "fw-mem.dtb"))) }, { verify: { hash: nodeHashProvider } });
    const seg = plan.segments.find((x) => x.name === "dtb");
    const planned = parseFdt(seg!.bytes);
    expect(getStringList(planned.root, "compatible")?.[0]).toBe(UKI_BOARDS[0]!.compatible[0]);
    expect(new TextDecoder().decode(findChild(planned.root, "chosen")?.props.find((x) => x.name === "bootargs")?.value).replace(/\0+$/, "")).toBe(UKI_TEXT.cmdline);
    expect(plan.notes.some((n) => n.startsWith("UKI dtb: .dtbauto"))).toBe(true);
    // No match: the UKI supplies no DT.
    const none = await ukiPlanInputs(d.bytes, { dtbauto: { compatible: "kimage,no-such-board" }, verify: { hash: nodeHashProvider } });
    expect(none.dtb).toBeNull();
  }, 120_000);

  it("hostile UKIs: a typed error or a plan, never a RangeError; an unreadable .dtb is ignored as the stub does", async () => {
    const pe = parsePe(plain.bytes);
    const patched: Uint8Array[] = [];
    for (const s of pe.sections) {
      // VirtualSize (+8), SizeOfRawData (+16), PointerToRawData (+20) set to hostile values.
      for (const [field, v] of [[8, 0xffffffff], [8, 0x7fff0000], [16, 0xfffffff0], [20, 0xfffffff0], [20, 0]] as const) {
        const b = plain.bytes.slice();
        new DataView(b.buffer).setUint32(s.headerOffset + field, v, true);
        patched.push(b);
      }
    }
    for (const cut of [64, 0x200, 0x400, pe.sections[0]!.PointerToRawData + 1, Math.floor(plain.bytes.length / 2)]) patched.push(plain.bytes.slice(0, cut));
    for (const b of patched) {
      try {
        const r = await ukiPlanInputs(b, { verify: { hash: nodeHashProvider } });
        expect(r.kernel.length).toBeGreaterThan(0);
      } catch (e) {
        expect(isKimageError(e), String(e)).toBe(true);
      }
    }
    const dir = mkdtempSync(join(tmp, "junk-dtb-"));
    writeFileSync(join(dir, "junk.dtb"), "not a device tree\n");
    const out = join(dir, "junk.efi");
    ukify(k, ["build", "--stub", k.stub.arm64, "--linux", k.kernel.arm64, "--cmdline", "x", "--devicetree", join(dir, "junk.dtb"), "--output", out], dir);
    const r = await ukiPlanInputs(new Uint8Array(readFileSync(out)), { verify: { hash: nodeHashProvider } });
    expect(r.dtb).toBeNull();
    expect(r.notes.some((n) => /is not a readable device tree/.test(n))).toBe(true);
    // ukify adds .osrel by itself: the only initrd part is the stub's /.extra/os-release, handed over alone.
    expect(r.initrdParts.map((p) => [p.source, p.at, p.pad])).toEqual([[".extra/os-release", 0, 0]]);
  }, 240_000);

  it("CLI: --profile and --addon need a UKI; --initrd with a UKI is refused; plan.json carries the uki block", async () => {
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const status = await main(argv, { out: (s) => void out.push(s), err: (s) => void err.push(s) });
      return { status, out: out.join("\n"), err: err.join("\n") };
    };
    const file = join(tmp, "plain.efi");
    writeFileSync(file, plain.bytes);
    const mem = ["--memory", "0:0x9fc00,0x100000:511M"];
    expect((await run("plan", "--arch", "x86_64", "--kernel", file, "--initrd", file, ...mem)).status).toBe(2);
    const linux = join(tmp, "linux");
    writeFileSync(linux, plain.inputs[".linux"]!);
    expect((await run("plan", "--arch", "x86_64", "--kernel", linux, "--profile", "1", ...mem)).status).toBe(2);
    const r = await run("plan", "--arch", "x86_64", "--kernel", file, ...mem, "--json");
    expect(r.status, r.err).toBe(0);
    const j = JSON.parse(r.out) as { cmdline: string; segments: { name: string; bufsz: string }[]; uki: { envelope: { verdict: string; missingAnchors: string[] }; initrd: { source: string }[] } };
    expect(j.cmdline).toBe(UKI_TEXT.cmdline);
    expect(j.uki.envelope.verdict).toBe("unsigned");
    expect(j.uki.initrd.map((x) => x.source)).toEqual([".ucode", ".initrd", ".extra/os-release"]);
    expect(j.segments.map((s) => s.name)).toContain("initrd");
    // --cert: the signed UKI's envelope is valid against the root; without it the root is the missing anchor.
    const signedFile = join(tmp, "signed.efi");
    writeFileSync(signedFile, signed.bytes);
    const withCert = JSON.parse((await run("plan", "--arch", "x86_64", "--kernel", signedFile, ...mem, "--cert", pki.root.certPath, "--json")).out) as typeof j;
    expect(withCert.uki.envelope.verdict).toBe("valid");
    const noCert = JSON.parse((await run("plan", "--arch", "x86_64", "--kernel", signedFile, ...mem, "--json")).out) as typeof j;
    expect(noCert.uki.envelope.verdict).toBe("untrusted");
    expect(noCert.uki.envelope.missingAnchors).toEqual([expect.stringContaining("kimage Test Root CA")]);
  }, 120_000);
});
