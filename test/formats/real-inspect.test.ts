// `kimage inspect --json` on each real file: the pe layer's machine and
// sections match `objdump -f`/`objdump -h`, and its certificate entries match
// `pesign -S` (count and signer common names).
import { describe, expect, it } from "vitest";
import { haveTool, isPe, requireReal, run } from "../support/real.js";

const files = requireReal("real PE files", (f) => (f.kind === "kernel" || f.kind === "efi") && isPe(f));
const tools = files.length > 0 && haveTool("objdump") && haveTool("pesign", ["--help"]);

/** bfd's pei format name for each PE machine name kimage prints. */
const BFD_FORMAT: Record<string, string> = {
  AMD64: "pei-x86-64",
  I386: "pei-i386",
  ARM64: "pei-aarch64-little",
};

interface ObjdumpSection {
  name: string;
  size: number;
  vma: bigint;
  fileOff: number;
}

function objdumpSections(path: string): { format: string; sections: ObjdumpSection[] } {
  const out = run("objdump", ["-h", path]);
  const format = /file format (\S+)/.exec(out)?.[1] ?? "";
  const sections: ObjdumpSection[] = [];
  for (const m of out.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+2\*\*\d+/gm)) {
    sections.push({ name: m[1] ?? "", size: parseInt(m[2] ?? "", 16), vma: BigInt(`0x${m[3]}`), fileOff: parseInt(m[4] ?? "", 16) });
  }
  return { format, sections };
}

/** Signer common names, one per signature, as `pesign -S` prints them. */
function pesignSigners(path: string): string[] {
  const out = run("pesign", ["-S", "-i", path]);
  return [...out.matchAll(/The signer's common name is (.*)$/gm)].map((m) => (m[1] ?? "").trim());
}

interface PeLayerJson {
  format: string;
  machine: string;
  optional: { ImageBase: string };
  sections: Array<{ name: string; VirtualSize: number; VirtualAddress: number; SizeOfRawData: number; PointerToRawData: number; flags: string[] }>;
  certificates: Array<{ type: string; digestAlgorithm: string; signers: Array<{ commonName: string | null }> }>;
}

describe.skipIf(!tools)("inspect --json matches objdump and pesign on real files", () => {
  for (const f of files) {
    it(f.path, () => {
      const json = JSON.parse(run("node", ["dist/cli.js", "inspect", "--json", f.abs])) as { file: string; layers: PeLayerJson[] };
      expect(json.file).toBe(f.abs);
      const pe = json.layers[0];
      if (!pe) throw new Error("no layer");
      expect(pe.format).toBe("pe");

      const signers = pesignSigners(f.abs);
      expect(pe.certificates.length).toBe(signers.length);
      expect(pe.certificates.map((c) => c.signers[0]?.commonName)).toEqual(signers);
      for (const c of pe.certificates) expect(c.type).toBe("PKCS_SIGNED_DATA");

      const bfd = BFD_FORMAT[pe.machine];
      if (!bfd) {
        // binutils 2.40 (Debian bookworm) has no pei target for this machine (arm Thumb, RISC-V, LoongArch).
        expect(["THUMB", "ARMNT", "RISCV64", "LOONGARCH64"]).toContain(pe.machine);
        return;
      }
      const od = objdumpSections(f.abs);
      expect(od.format).toBe(bfd);
      const imageBase = BigInt(pe.optional.ImageBase);
      // objdump lists every section header; bfd reports min(VirtualSize, SizeOfRawData) as
      // the size of an image section (VirtualSize for uninitialised data with no raw bytes).
      expect(pe.sections.map((s) => s.name)).toEqual(od.sections.map((s) => s.name));
      pe.sections.forEach((s, i) => {
        const o = od.sections[i];
        if (!o) throw new Error("missing");
        const bfdSize = s.VirtualSize > 0 && (s.SizeOfRawData > s.VirtualSize || (s.SizeOfRawData === 0 && s.flags.includes("CNT_UNINITIALIZED_DATA"))) ? s.VirtualSize : s.SizeOfRawData;
        expect({ name: s.name, vma: imageBase + BigInt(s.VirtualAddress), size: bfdSize }).toEqual({ name: o.name, vma: o.vma, size: o.size });
        if (s.SizeOfRawData > 0) expect(s.PointerToRawData).toBe(o.fileOff);
      });

    });
  }
});
