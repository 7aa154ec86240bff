// ELF parsing on builder-made files (ELF32/ELF64 × LSB/MSB), checked against
// readelf; and one mutation per kexec_elf.c check, each with its typed code
// and the kernel's message.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isKimageError } from "../../src/core/errors.js";
import { elfFormat, elfInspectionPrefix } from "../../src/formats/elf/format.js";
import { parseElf } from "../../src/formats/elf/parse.js";
import { inspect } from "../../src/inspect/registry.js";
import { buildElf, poke, type BuildElf, type ElfLayout } from "../support/elf-builder.js";
import { haveTool, run } from "../support/real.js";

const enc = new TextEncoder();
const BUILD_ID = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 11) & 0xff);

function u32(v: number, le: boolean): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, le);
  return b;
}

function spec(cls: 32 | 64, le: boolean, extra: Partial<BuildElf> = {}): BuildElf {
  return {
    class: cls,
    le,
    machine: cls === 64 ? (le ? 62 : 22) : le ? 3 : 20,
    entry: 0x1000000n,
    segments: [
      { vaddr: 0xc1000000n, paddr: 0x1000000n, data: enc.encode("\x00Linux version 6.1.0-test (builder) #1\n\x00"), memsz: 0x2000n },
      { vaddr: 0xc2000000n, paddr: 0x2000000n, data: new Uint8Array(64).fill(0xaa), flags: 6 },
    ],
    notes: [
      { owner: "Xen", type: 6, desc: enc.encode("linux\0") },
      { owner: "GNU", type: 3, desc: BUILD_ID },
      { owner: "Linux", type: 0x100, desc: enc.encode("6.1.0-test\0") },
      { owner: "Linux", type: 0x101, desc: u32(0, le) },
      { owner: "Xen", type: 18, desc: u32(0x1000850, le) },
    ],
    ...extra,
  };
}

const VARIANTS: Array<[32 | 64, boolean]> = [
  [64, true],
  [64, false],
  [32, true],
  [32, false],
];

const tmp = mkdtempSync(join(tmpdir(), "kimage-elf-"));
const readelf = haveTool("readelf");

describe("ELF builder files", () => {
  for (const [cls, le] of VARIANTS) {
    const name = `ELF${cls} ${le ? "LSB" : "MSB"}`;
    it(`${name}: headers, sections, notes`, async () => {
      const l = buildElf(spec(cls, le));
      const elf = parseElf(l.bytes);
      expect(elf.header.class).toBe(cls);
      expect(elf.header.data).toBe(le ? "LSB" : "MSB");
      expect(elf.kexecErrors).toEqual([]);
      expect(elf.programHeaders.map((p) => p.p_type)).toEqual([1, 1, 4]);
      expect(elf.sectionHeaders?.map((s) => s.name)).toEqual(["", ".seg0", ".seg1", ".notes", ".shstrtab"]);
      expect(elf.buildId).toBe(Buffer.from(BUILD_ID).toString("hex"));
      expect(elf.pvhEntry).toBe(0x1000850n);
      expect(elf.buildSalt).toBe("6.1.0-test");
      expect(elf.ltoInfo).toBe(0);
      expect(elf.notes.map((n) => n.typeName)).toEqual(["XEN_ELFNOTE_GUEST_OS", "NT_GNU_BUILD_ID", "LINUX_ELFNOTE_BUILD_SALT", "LINUX_ELFNOTE_LTO_INFO", "XEN_ELFNOTE_PHYS32_ENTRY"]);

      const { layers } = await inspect(l.bytes, { formats: [elfFormat] });
      expect(layers).toHaveLength(1);
      const layer = layers[0];
      expect(layer?.format).toBe("elf");
      expect(layer?.payload).toBeUndefined();
      expect(layer?.fields.kexecLoadable).toBe(true);
      expect(layer?.fields.pvhEntry).toBe("0x1000850");
      expect(JSON.parse(JSON.stringify(layer))).toEqual(layer);

      if (readelf) {
        const path = join(tmp, `t${cls}${le ? "l" : "b"}.elf`);
        writeFileSync(path, l.bytes);
        const out = run("readelf", ["-h", "-l", "-S", "-n", "-W", path]);
        expect(out).toContain(`Class:                             ELF${cls}`);
        expect(out).toContain(`Build ID: ${elf.buildId}`);
        const secs = [...out.matchAll(/^\s*\[\s*\d+\]\s+(\S+)/gm)].map((m) => m[1]);
        expect(secs).toEqual(["NULL", ".seg0", ".seg1", ".notes", ".shstrtab"]);
        expect(out).toMatch(/Entry point address:\s+0x1000000/);
        expect((out.match(/^\s+LOAD\s/gm) ?? []).length).toBe(2);
      }
    });
  }

  it("a file without section headers reads its notes from PT_NOTE", () => {
    const l = buildElf(spec(64, true, { noSections: true }));
    const elf = parseElf(l.bytes);
    expect(elf.sectionHeaders).toBeNull();
    expect(elf.buildId).not.toBeNull();
  });

  it("a prefix with the full size: bounds against the full size, notes read when present", () => {
    const l = buildElf(spec(64, true));
    const cut = l.shdr[0] as number; // the section headers are past the prefix
    const elf = parseElf(l.bytes.subarray(0, cut), { fileSize: l.bytes.length });
    expect(elf.kexecErrors).toEqual([]);
    expect(elf.sectionHeaders).toBeNull();
    expect(elf.buildId).not.toBeNull();
    expect(elf.findings.map((f) => f.code)).toContain("elf-prefix");
    const need = elfInspectionPrefix(l.bytes.subarray(0, 64));
    expect(need).toBe(64 + 3 * 56);
    const note = elf.programHeaders.find((p) => p.p_type === 4);
    expect(elfInspectionPrefix(l.bytes.subarray(0, need as number))).toBe(Number((note?.p_offset ?? 0n) + (note?.p_filesz ?? 0n)));
  });
});

/** The first kexec check of `bytes`, via parseElf. */
function firstCheck(bytes: Uint8Array): { code: string; message: string } | undefined {
  const c = parseElf(bytes).kexecErrors[0];
  return c && { code: c.code, message: c.message };
}

function thrown(bytes: Uint8Array): { code: string; message: string } {
  try {
    parseElf(bytes);
  } catch (e) {
    if (isKimageError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("did not throw");
}

describe("kexec_elf.c checks, one mutation each", () => {
  for (const [cls, le] of VARIANTS) {
    const name = `ELF${cls} ${le ? "LSB" : "MSB"}`;
    const l: ElfLayout = buildElf(spec(cls, le));
    const max = cls === 64 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
    const ph0 = l.phdr[0] as ElfLayout["phdr"][number];
    const cases: Array<[string, Uint8Array, string, string]> = [
      ["e_ehsize", poke(l, l.ehdr.e_ehsize, 2, 40), "elf-bad-ehsize", "Bad ELF header size."],
      ["e_phentsize", poke(l, l.ehdr.e_phentsize, 2, 40), "elf-bad-phentsize", "Bad program header size."],
      ["e_shentsize", poke(l, l.ehdr.e_shentsize, 2, 32), "elf-bad-shentsize", "Bad section header size."],
      ["EI_VERSION", (() => { const b = l.bytes.slice(); b[6] = 2; return b; })(), "elf-bad-version", "Unknown ELF version."],
      ["e_version", poke(l, l.ehdr.e_version, 4, 0), "elf-bad-version", "Unknown ELF version."],
      ["e_phoff wraps", poke(l, l.ehdr.e_phoff, "word", max - 8n), "elf-phdrs-wrap", "Program headers at invalid location."],
      ["e_phoff past the end", poke(l, l.ehdr.e_phoff, "word", BigInt(l.bytes.length - 8)), "elf-phdrs-truncated", "Program headers truncated."],
      ["e_shoff wraps", poke(l, l.ehdr.e_shoff, "word", max - 8n), "elf-shdrs-wrap", "Section headers at invalid location."],
      ["e_shoff past the end", poke(l, l.ehdr.e_shoff, "word", BigInt(l.bytes.length - 8)), "elf-shdrs-truncated", "Section headers truncated."],
      ["p_offset + p_filesz wraps", poke(l, ph0.p_offset, "word", max - 4n), "elf-segment-offset-wrap", "ELF segment location wraps around."],
      ["p_filesz past the end", poke(l, ph0.p_filesz, "word", BigInt(l.bytes.length)), "elf-segment-not-in-file", "ELF segment not in file."],
      ["p_paddr + p_memsz wraps", poke(l, ph0.p_paddr, "word", max - 0x10n), "elf-segment-address-wrap", "ELF segment address wraps around."],
      ["e_type ET_REL", poke(l, l.ehdr.e_type, 2, 1), "elf-not-executable", "Not an ELF executable."],
      ["e_phnum 0", poke(l, l.ehdr.e_phnum, 2, 0), "elf-no-phdrs", "No ELF program header."],
      ["PT_INTERP", poke(l, ph0.p_type, 4, 3), "elf-interp", "Requires an ELF interpreter."],
    ];
    for (const [what, bytes, code, message] of cases) {
      it(`${name}: ${what} → ${code}`, async () => {
        expect(firstCheck(bytes)).toEqual({ code, message });
        const { layers } = await inspect(bytes, { formats: [elfFormat] });
        expect(layers[0]?.fields.kexecLoadable).toBe(false);
        expect(layers[0]?.findings.map((f) => f.code)).toContain(code);
      });
    }
    it(`${name}: e_shstrndx out of range → elf-bad-shstrndx`, () => {
      const c = parseElf(poke(l, l.ehdr.e_shstrndx, 2, 99)).kexecErrors[0];
      expect(c?.code).toBe("elf-bad-shstrndx");
    });
    it(`${name}: a note running past its segment → elf-bad-note (bounded)`, () => {
      const b = poke(l, l.notesOffset + 4, 4, 0x7fffffff);
      const elf = parseElf(b);
      expect(elf.findings.map((f) => f.code)).toContain("elf-bad-note");
      expect(elf.notes).toHaveLength(0);
    });
    it(`${name}: header failures throw with typed codes`, () => {
      expect(thrown(l.bytes.subarray(0, 10))).toEqual({ code: "elf-too-short", message: "Buffer is too small to hold ELF header." });
      expect(thrown(l.bytes.subarray(0, cls === 64 ? 60 : 50))).toEqual({ code: "elf-too-short", message: "Buffer is too small to hold ELF header." });
      const noMagic = l.bytes.slice();
      noMagic[1] = 0x46;
      expect(thrown(noMagic)).toEqual({ code: "elf-bad-magic", message: "No ELF header magic." });
      const badClass = l.bytes.slice();
      badClass[4] = 3;
      expect(thrown(badClass)).toEqual({ code: "elf-bad-class", message: "Not a supported ELF class." });
      const badData = l.bytes.slice();
      badData[5] = 0;
      expect(thrown(badData)).toEqual({ code: "elf-bad-data", message: "Not a supported ELF data format." });
    });
  }

  it("every mutation of every header byte parses or throws a KimageError (never anything else)", () => {
    for (const [cls, le] of VARIANTS) {
      const l = buildElf(spec(cls, le));
      const end = (l.phdr[l.phdr.length - 1]?.p_align ?? 0) + 8;
      for (let i = 0; i < end; i++) {
        for (const v of [0x00, 0xff, 0x80, 0x7f]) {
          const b = l.bytes.slice();
          b[i] = v;
          try {
            parseElf(b);
          } catch (e) {
            expect(isKimageError(e)).toBe(true);
          }
        }
      }
    }
  });
});

describe("ELF layer on a prefix (partial decompression)", () => {
  it("ctx.fileSize or ctx.expectedSize make the bounds checks use the full size", async () => {
    const l = buildElf(spec(64, true));
    const prefix = l.bytes.subarray(0, 64 + 3 * 56);
    const alone = elfFormat.parse(prefix, { offset: -1 }) as { fields: Record<string, unknown> };
    expect(alone.fields.kexecLoadable).toBe(false); // the segments seem to run past the end
    for (const ctx of [{ offset: -1, fileSize: l.bytes.length }, { offset: -1, expectedSize: l.bytes.length }]) {
      const layer = elfFormat.parse(prefix, ctx) as { fields: Record<string, unknown>; findings: Array<{ code: string }> };
      expect(layer.fields).toMatchObject({ kexecLoadable: true, complete: false, fileSize: l.bytes.length, available: prefix.length, buildId: null });
      expect(layer.findings.map((f) => f.code)).toContain("elf-prefix");
    }
  });
});
