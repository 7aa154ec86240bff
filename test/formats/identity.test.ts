// kernelIdentity on synthetic kernels: the banner, the build-id, the build
// salt fallback, IKCONFIG (gzip between IKCFG_ST and IKCFG_ED, parsed into a
// map), decoding depth, and the raw layer.
import { spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { elfFormat } from "../../src/formats/elf/format.js";
import type { Layer } from "../../src/format/types.js";
import { findBanner, findIkconfig, kernelIdentity, parseKconfig, rawFormat } from "../../src/inspect/identity.js";
import { buildElf } from "../support/elf-builder.js";

const enc = new TextEncoder();
const BANNER = "Linux version 6.1.0-test-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.0-1 (2026-01-01)";
const CONFIG = "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_IKCONFIG=y\nCONFIG_LOCALVERSION=\"-test\"\n# CONFIG_KASAN is not set\nCONFIG_HZ=250\nCONFIG_EXT4_FS=m\n";
const BUILD_ID = Uint8Array.from({ length: 20 }, (_, i) => i + 1);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
}

/** A vmlinux-like ELF: .rodata with a format string, the banner and IKCONFIG; notes with build-id and salt. */
function kernelElf(o: { banner?: boolean; config?: boolean } = {}): Uint8Array {
  const rodata = concat(
    enc.encode("\0Linux version %s (%s)\n\0"),
    o.banner === false ? new Uint8Array(0) : enc.encode(`${BANNER}\n\0`),
    o.config === false ? new Uint8Array(0) : concat(enc.encode("IKCFG_ST"), new Uint8Array(gzipSync(enc.encode(CONFIG))), enc.encode("IKCFG_ED")),
  );
  return buildElf({
    class: 64,
    le: true,
    segments: [{ vaddr: 0xffffffff81000000n, paddr: 0x1000000n, data: rodata }],
    notes: [
      { owner: "GNU", type: 3, desc: BUILD_ID },
      { owner: "Linux", type: 0x100, desc: enc.encode("6.1.0-test-amd64\0") },
    ],
  }).bytes;
}

describe("identity", () => {
  it("findBanner skips format strings; parseKconfig keeps set options as written", () => {
    const b = concat(enc.encode("xxLinux version %s\n\0"), enc.encode(`${BANNER}\n`));
    expect(findBanner(b)).toEqual({ text: BANNER, release: "6.1.0-test-amd64", offset: 20 });
    expect(findBanner(enc.encode("no banner here"))).toBeNull();
    expect(parseKconfig(CONFIG)).toEqual({ CONFIG_IKCONFIG: "y", CONFIG_LOCALVERSION: '"-test"', CONFIG_HZ: "250", CONFIG_EXT4_FS: "m" });
    expect(findIkconfig(enc.encode("IKCFG_ST not gzip IKCFG_ED"))).toBeNull();
  });

  it("an uncompressed ELF kernel: banner, build-id, IKCONFIG", async () => {
    const id = await kernelIdentity(kernelElf(), { formats: [elfFormat] });
    expect(id).toMatchObject({
      version: "6.1.0-test-amd64",
      versionString: BANNER.slice("Linux version ".length),
      banner: BANNER,
      buildId: Buffer.from(BUILD_ID).toString("hex"),
      config: { CONFIG_IKCONFIG: "y", CONFIG_LOCALVERSION: '"-test"', CONFIG_HZ: "250", CONFIG_EXT4_FS: "m" },
      sources: { version: "banner", buildId: "elf-note", config: "ikconfig" },
    });
  });

  it("without a banner, the release comes from LINUX_ELFNOTE_BUILD_SALT; without IKCONFIG, config is null", async () => {
    const id = await kernelIdentity(kernelElf({ banner: false, config: false }), { formats: [elfFormat] });
    expect(id.version).toBe("6.1.0-test-amd64");
    expect(id.sources.version).toBe("elf-note");
    expect(id.banner).toBeNull();
    expect(id.config).toBeNull();
  });

  it("a compressed payload: decoded as far as depth asks; the header string wins for the version", async () => {
    const elf = kernelElf();
    const xz = spawnSync("xz", ["--format=xz", "--check=crc32", "-c"], { input: elf });
    const container: Layer = {
      format: "bzimage",
      offset: 0,
      size: 1,
      summary: "",
      fields: { kernelVersion: "6.1.0-test-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.1.0-1 (2026-01-01)" },
      findings: [],
      payload: { bytes: new Uint8Array(xz.stdout), offset: 0x5000, codec: "xz", expectedSize: elf.length },
    };
    const headers = await kernelIdentity([container], { depth: "headers" });
    expect(headers).toMatchObject({ version: "6.1.0-test-amd64", buildId: null, banner: null, config: null, searched: 0, sources: { version: "bzimage" } });
    const notes = await kernelIdentity([container]);
    expect(notes.buildId).toBe(Buffer.from(BUILD_ID).toString("hex"));
    expect(notes.searched).toBeLessThanOrEqual(elf.length);
    const full = await kernelIdentity([container], { depth: "full" });
    expect(full.banner).toBe(BANNER);
    expect(full.config?.CONFIG_HZ).toBe("250");
    expect(full.searched).toBe(elf.length);
    const none = await kernelIdentity([container], { maxDecode: 0 });
    expect(none.buildId).toBeNull();
  });

  it("a corrupt payload leaves the decoded parts null", async () => {
    const container: Layer = { format: "zimage", offset: 0, size: 1, summary: "", fields: {}, findings: [], payload: { bytes: enc.encode("\xfd7zXZ\0garbage"), offset: 0, codec: "xz" } };
    const id = await kernelIdentity([container], { depth: "full" });
    expect(id).toMatchObject({ version: null, buildId: null, banner: null, config: null });
  });

  it("rawFormat reports size and banner", () => {
    const b = concat(new Uint8Array(100), enc.encode(`${BANNER}\n`));
    const l = rawFormat.parse(b, { offset: -1 }) as Layer;
    expect(l.format).toBe("raw");
    expect(l.fields).toEqual({ size: b.length, banner: BANNER, release: "6.1.0-test-amd64", bannerOffset: 100 });
    expect(rawFormat.probe(new Uint8Array(0))).toBe(false);
  });
});
