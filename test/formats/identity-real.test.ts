// Every Debian kernel of the x86, armhf, s390x and ppc64el families, end to
// end: the layer chain down to the kernel proper; the decoded kernel equals
// what the native tool (`xz -dc`, `zstd -dc`) makes of the extracted payload
// (sha256); and the identity (release, build-id) matches the package name,
// `file`, and `readelf -n`.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bzImageFormat } from "../../src/formats/bzimage/format.js";
import { decompress } from "../../src/codecs/index.js";
import { elfFormat } from "../../src/formats/elf/format.js";
import { inspect } from "../../src/inspect/registry.js";
import type { FormatModule, Layer } from "../../src/format/types.js";
import { kernelIdentity } from "../../src/inspect/identity.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { s390ImageFormat } from "../../src/formats/s390/format.js";
import { zImageFormat } from "../../src/formats/zimage/format.js";
import { haveTool, readBytes, requireReal, run, releaseOf } from "../support/real.js";
import { spawnSync } from "node:child_process";

const ARCHES = new Set(["amd64", "i386", "armhf", "s390x", "ppc64el"]);
const kernels = requireReal("Debian kernels (x86, armhf, s390x, ppc64el)", (f) => f.kind === "kernel" && ARCHES.has(f.arch));
const tools = kernels.length > 0 && haveTool("xz") && haveTool("zstd") && haveTool("file", ["-v"]) && haveTool("readelf", ["-v"]);

/** The codec layers (src/formats/compressed/format.ts) as the registry exports them, when they have landed. */
async function codecFormats(): Promise<FormatModule[]> {
  const path = "../../src/inspect/registry.js";
  if (!existsSync(new URL(path.replace(/\.js$/, ".ts"), import.meta.url))) return [];
  const mod = (await import(/* @vite-ignore */ path)) as Record<string, unknown>;
  return Object.values(mod).filter((v): v is FormatModule => typeof v === "object" && v !== null && "probe" in v && "parse" in v && "id" in v);
}

const FORMATS: FormatModule[] = [peFormat, bzImageFormat, zImageFormat, s390ImageFormat, elfFormat];

const EXPECTED_CHAIN: Record<string, string[]> = {
  amd64: ["pe", "bzimage"],
  i386: ["pe", "bzimage"],
  armhf: ["pe", "zimage"],
  s390x: ["s390-image"],
  ppc64el: ["elf"],
};
/** What follows the codec layer. */
const INNER: Record<string, string | null> = { amd64: "elf", i386: "elf", armhf: "raw", s390x: "raw", ppc64el: null };
const CODEC: Record<string, Record<string, string>> = {
  bookworm: { amd64: "xz", i386: "xz", armhf: "xz", s390x: "xz" },
  trixie: { amd64: "zstd", i386: "zstd", armhf: "xz", s390x: "zstd" },
  sid: { amd64: "zstd", i386: "zstd", armhf: "xz", s390x: "zstd" },
};

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const tmp = mkdtempSync(join(tmpdir(), "kimage-identity-"));
/** Decoded payloads, by the compressed payload's sha256 (signed and unsigned images share one). */
const decoded = new Map<string, { sha: string; native: string; path: string }>();

describe.skipIf(!tools)("Debian kernels: chain, decoded kernel, identity", () => {
  for (const f of kernels) {
    it(`${f.suite}/${f.arch} ${f.package}`, async () => {
      const bytes = readBytes(f.abs);
      const codecs = await codecFormats();
      const t0 = performance.now();
      const { layers } = await inspect(bytes, { formats: [...FORMATS, ...codecs] });
      const ms = performance.now() - t0;
      console.log(`${f.path}: inspect ${ms.toFixed(0)} ms: ${layers.map((l) => l.format).join(" → ")}`);

      // 1. The chain.
      const chain = EXPECTED_CHAIN[f.arch] as string[];
      expect(layers.slice(0, chain.length).map((l) => l.format)).toEqual(chain);
      const container = layers[chain.length - 1] as Layer;
      // kexec's bzImage64_probe accepts the amd64 images; a 686 image is reported with its message.
      if (f.arch === "amd64") expect(container.fields.kexecLoadable).toBe(true);
      if (f.arch === "i386") {
        expect(container.fields.kexecErrors).toEqual([
          { code: "bzimage-not-64", message: "Not a bzImage64. XLF_KERNEL_64 is not set.", offset: 0x236 },
          { code: "bzimage-not-above-4g", message: "XLF_CAN_BE_LOADED_ABOVE_4G is not set.", offset: 0x236 },
        ]);
      }
      if (f.arch === "ppc64el") expect(container.fields).toMatchObject({ class: "ELF64", data: "ELFDATA2LSB", e_machine: "EM_PPC64", kexecLoadable: true });
      if (f.arch === "ppc64el") expect((container.fields.programHeaders as unknown[]).filter((p) => (p as { p_type: string }).p_type === "PT_LOAD")).toHaveLength(1);
      let vmlinuxPath = f.abs;
      if (f.arch !== "ppc64el") {
        const codec = CODEC[f.suite]?.[f.arch];
        const p = container.payload;
        if (!p) throw new Error("no payload");
        expect(p.codec).toBe(codec);
        expect(p.expectedSize).toBeGreaterThan(p.bytes.length);
        if (codecs.length > 0) {
          expect(layers[chain.length]?.format).toBe(codec);
          const inner = INNER[f.arch];
          if (inner) expect(layers[chain.length + 1]?.format).toBe(inner);
        }

        // 2. Decoded kernel == native tool on the extracted payload (sha256), size == trailer.
        const key = sha256(p.bytes);
        let d = decoded.get(key);
        if (!d) {
          const path = join(tmp, `${key}.${codec}`);
          writeFileSync(path, p.bytes);
          const nat = spawnSync(codec === "xz" ? "xz" : "zstd", ["-dc", path], { maxBuffer: 512 << 20 });
          expect(nat.status).toBe(0);
          const native = new Uint8Array(nat.stdout);
          writeFileSync(`${path}.out`, native);
          // The codec layer's decoded payload when there is one, else the dispatcher's output.
          let ours = layers[chain.length]?.payload?.bytes;
          if (!ours) {
            const r = await decompress(p.bytes, p.codec as NonNullable<typeof p.codec>, { expectedSize: p.expectedSize as number });
            expect(r.complete).toBe(true);
            ours = r.bytes;
          }
          expect(ours.length).toBe(p.expectedSize);
          d = { sha: sha256(ours), native: sha256(native), path: `${path}.out` };
          decoded.set(key, d);
        }
        expect(d.sha).toBe(d.native);
        vmlinuxPath = d.path;
      }

      // 3. Identity: the release of the package name, `file`'s version, readelf's build-id.
      const t1 = performance.now();
      // From the layers inspect made (reusing a decoded payload when a codec layer made one).
      const id = await kernelIdentity(layers, { bytes });
      console.log(`${f.path}: identity ${(performance.now() - t1).toFixed(0)} ms: ${id.version} ${id.buildId} (${id.sources.version}, searched ${id.searched})`);
      expect(id.version).toBe(releaseOf(f));
      expect(id.versionString).toContain(`Debian ${f.version}`);
      expect(id.config).toBeNull(); // Debian builds IKCONFIG as a module (configs.ko)
      const file = run("file", ["-b", f.abs]);
      const fileVersion = /bzImage, version (\S+) \(/.exec(file)?.[1];
      if (f.arch === "amd64" || f.arch === "i386") expect(fileVersion).toBeDefined();
      if (fileVersion) expect(id.version).toBe(fileVersion);
      const fileBuildId = /BuildID\[sha1\]=([0-9a-f]+)/.exec(file)?.[1];
      if (fileBuildId) expect(id.buildId).toBe(fileBuildId);
      if (f.arch !== "armhf" && f.arch !== "s390x") {
        // The kernel proper is an ELF: its build-id is readelf's.
        const re = /Build ID: ([0-9a-f]+)/.exec(run("readelf", ["-n", vmlinuxPath]))?.[1];
        expect(re).toBeDefined();
        expect(id.buildId).toBe(re);
      } else {
        // A raw image: the banner names the same release.
        const full = await kernelIdentity(bytes, { formats: FORMATS, depth: "full" });
        expect(full.banner).toMatch(new RegExp(`^Linux version ${releaseOf(f).replace(/[+.]/g, "\\$&")} \\(`));
      }
    });
  }
});
