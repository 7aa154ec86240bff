// The oracle: on every real PE that `npm run fixtures` fetched, kimage's
// Authenticode digest equals the digest the signer embedded in the file's own
// signature (each entry, with that entry's algorithm), and equals
// `pesign -h -P` where the file is unsigned. The CLI (`kimage digest --json`)
// is checked file by file too.
import { describe, expect, it } from "vitest";
import { authenticodeDigest, isHashAlgorithm, parsePe, readAuthenticodeInfo, toHex } from "../../src/internals.js";
import { nodeHashProvider } from "../../src/node/index.js";
import { flipByte } from "../support/pe-builder.js";
import { haveTool, isPe, readBytes, requireReal, run } from "../support/real.js";

const files = requireReal("real PE files", (f) => (f.kind === "kernel" || f.kind === "efi") && isPe(f));
const pesign = files.length > 0 && haveTool("pesign", ["--help"]);
const hash = { hash: nodeHashProvider };

function pesignHash(path: string): string {
  const m = /hash: ([0-9a-f]+)/.exec(run("pesign", ["-h", "-P", "-i", path]));
  if (!m?.[1]) throw new Error(`pesign printed no hash for ${path}`);
  return m[1];
}

function cliDigest(path: string, alg = "sha256"): { alg: string; digest: string } {
  return JSON.parse(run("node", ["dist/cli.js", "digest", "--json", "--alg", alg, path])) as { alg: string; digest: string };
}

describe.skipIf(files.length === 0)("Authenticode digest equals the signer's and pesign's on real files", () => {
  for (const f of files) {
    it(f.path, async () => {
      const bytes = readBytes(f.abs);
      const pe = parsePe(bytes);
      const entries = pe.certificateTable?.entries ?? [];
      if (entries.length > 0) {
        for (const e of entries) {
          const info = readAuthenticodeInfo(e.bCertificate, e.contentOffset);
          const alg = info.digestAlgorithm;
          if (!isHashAlgorithm(alg)) throw new Error(`${f.path}: entry ${e.index} uses ${alg}`);
          const ours = await authenticodeDigest(pe, alg, hash);
          expect(ours.hex, `entry ${e.index} (${alg})`).toBe(toHex(info.digest));
          expect(cliDigest(f.abs, alg)).toMatchObject({ alg, digest: toHex(info.digest) });
        }
      } else {
        expect(f.signedPackage, "files of signed packages carry a signature").toBe(false);
        const ours = await authenticodeDigest(pe, "sha256", hash);
        expect(ours.hex).toBe(pesignHash(f.abs));
        expect(cliDigest(f.abs)).toMatchObject({ alg: "sha256", digest: ours.hex });
      }
      if (pesign) {
        // pesign also digests signed files (it skips the table the same way).
        expect((await authenticodeDigest(pe, "sha256", hash)).hex).toBe(pesignHash(f.abs));
      }
    });
  }

  it("signed and unsigned builds of the same kernel have the same digest", async () => {
    const signedKernels = files.filter((f) => f.kind === "kernel" && f.signedPackage);
    let pairs = 0;
    for (const s of signedKernels) {
      const u = files.find((x) => x.kind === "kernel" && !x.signedPackage && x.suite === s.suite && x.arch === s.arch && x.package === `${s.package}-unsigned`);
      if (!u) continue;
      pairs++;
      const a = await authenticodeDigest(readBytes(s.abs), "sha256", hash);
      const b = await authenticodeDigest(readBytes(u.abs), "sha256", hash);
      expect(a.hex, `${s.path} vs ${u.path}`).toBe(b.hex);
    }
    expect(pairs).toBeGreaterThan(0);
  });
});

describe.skipIf(files.length === 0)("region classes on a real signed kernel", () => {
  it("a byte flipped in each hashed region changes the digest; CheckSum and the table do not", async () => {
    const f = files.find((x) => x.kind === "kernel" && x.signedPackage) ?? files[0];
    if (!f) return;
    const bytes = readBytes(f.abs);
    const pe = parsePe(bytes);
    const base = (await authenticodeDigest(pe, "sha256", hash)).hex;
    const d = async (b: Uint8Array) => (await authenticodeDigest(b, "sha256", hash)).hex;
    const firstSection = pe.sections.find((s) => s.SizeOfRawData > 0);
    if (!firstSection) throw new Error("no section");
    const table = pe.certificateTable;
    if (!table) throw new Error(`${f.path} is not signed`);
    const hashed: Record<string, number> = {
      "DOS header": 0x30,
      "COFF header": pe.layout.coffHeader + 4,
      "optional header": pe.layout.optionalHeader + 16,
      "section table": pe.layout.sectionTable + 1,
      "section data": firstSection.PointerToRawData + 17,
    };
    for (const [name, at] of Object.entries(hashed)) expect(await d(flipByte(bytes, at)), name).not.toBe(base);
    expect(await d(flipByte(bytes, pe.layout.checksum))).toBe(base);
    expect(await d(flipByte(bytes, table.offset + 100))).toBe(base);
  });
});
