// ELF parsing of real kernels against readelf: the ppc64el vmlinux as
// shipped, and the vmlinux inside the amd64/i386 bzImages (extracted by the
// bzImage layer, decompressed by the native tool): header, program headers,
// section headers and notes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseBzImage } from "../../src/formats/bzimage/format.js";
import { parseElf } from "../../src/formats/elf/parse.js";
import { PT_NAMES } from "../../src/formats/elf/spec.js";
import { haveTool, readBytes, requireReal, run, releaseOf } from "../support/real.js";

const candidates = requireReal("Debian ELF kernels (ppc64el, and x86 via the bzImage payload)", (f) => f.kind === "kernel" && ["ppc64el", "amd64", "i386"].includes(f.arch));
// One per suite and architecture: the unsigned image where there is one (a signed one has the same ELF).
const files = candidates.filter((f) => !f.signedPackage || !candidates.some((g) => !g.signedPackage && g.suite === f.suite && g.arch === f.arch));
const tools = files.length > 0 && haveTool("readelf", ["-v"]) && haveTool("xz") && haveTool("zstd");
const tmp = mkdtempSync(join(tmpdir(), "kimage-elf-real-"));

/** The ELF file to check: the file itself, or the natively decompressed bzImage payload. */
function elfPath(abs: string, arch: string): string {
  if (arch === "ppc64el") return abs;
  const bz = parseBzImage(readBytes(abs));
  const p = bz.payload;
  if (!p) throw new Error("no payload");
  const out = join(tmp, `${arch}-${p.offset}-${p.compressed.length}.elf`);
  const r = spawnSync(p.codec === "xz" ? "xz" : "zstd", ["-dc"], { input: p.compressed, maxBuffer: 512 << 20 });
  if (r.status !== 0) throw new Error("native decompression failed");
  writeFileSync(out, r.stdout);
  return out;
}

const big = (s: string): bigint => BigInt(`0x${s.replace(/^0x/, "")}`);

describe.skipIf(!tools)("ELF layer vs readelf on real kernels", () => {
  for (const f of files) {
    it(`${f.suite}/${f.arch} ${f.package}`, () => {
      const path = elfPath(f.abs, f.arch);
      const bytes = new Uint8Array(readFileSync(path));
      const t0 = performance.now();
      const elf = parseElf(bytes);
      console.log(`${f.path}: parseElf ${(performance.now() - t0).toFixed(1)} ms, ${bytes.length} bytes`);
      expect(elf.kexecErrors).toEqual([]);
      const out = run("readelf", ["-h", "-l", "-S", "-n", "-W", path]);

      expect(out).toContain(`Class:                             ELF${elf.header.class}`);
      expect(big(/Entry point address:\s+(0x[0-9a-f]+)/.exec(out)?.[1] ?? "")).toBe(elf.header.e_entry);

      // Program headers: type offset vaddr paddr filesz memsz flags align.
      const ph = [...out.matchAll(/^\s{2}([A-Z_]+)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) ([RWE ]{3}) (0x[0-9a-f]+)$/gm)];
      expect(ph.length).toBe(elf.programHeaders.length);
      ph.forEach((m, i) => {
        const p = elf.programHeaders[i];
        if (!p) throw new Error("missing phdr");
        expect((PT_NAMES[p.p_type] ?? "").replace(/^PT_/, "").replace("GNU_", "GNU_")).toBe(m[1] === "NOTE" ? "NOTE" : m[1]);
        expect([p.p_offset, p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz, p.p_align]).toEqual([m[2], m[3], m[4], m[5], m[6], m[8]].map((x) => big(x ?? "")));
      });

      // Section headers: name, address, offset, size.
      const sh = [...out.matchAll(/^\s+\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)/gm)];
      const secs = elf.sectionHeaders ?? [];
      expect(sh.length).toBe(secs.length);
      sh.forEach((m) => {
        const s = secs[Number(m[1])];
        if (!s) throw new Error("missing section");
        if (Number(m[1]) > 0) expect(s.name).toBe(m[2]);
        expect([s.sh_addr, s.sh_offset, s.sh_size]).toEqual([m[4], m[5], m[6]].map((x) => big(x ?? "")));
      });

      // Notes: owners in order, and the build-id.
      const owners = [...out.matchAll(/^\s{2}(\S+)\s+0x[0-9a-f]{8}\t/gm)].map((m) => m[1]);
      expect(elf.notes.map((n) => n.owner)).toEqual(owners);
      expect(elf.buildId).toBe(/Build ID: ([0-9a-f]+)/.exec(out)?.[1]);
      // amd64 kernels carry the PVH entry (XEN_ELFNOTE_PHYS32_ENTRY); x86 ones the Linux build salt.
      if (f.arch === "amd64") expect(elf.pvhEntry).not.toBeNull();
      if (f.arch !== "ppc64el") {
        expect(elf.buildSalt).toBe(releaseOf(f));
      }
    });
  }
});
