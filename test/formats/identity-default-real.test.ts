// Every real Debian kernel at inspect's default depth (decode "peek", identity depth "headers",
// as `kimage inspect --json` runs them): the release equals the one in the package name, and a
// kernel whose proper is an ELF names its build-id. Kernels whose banner lies deep in the
// payload (the armhf zImages, sid's loong64 zboot) are found by reading on through the stream.
import { describe, expect, it } from "vitest";
import { inspect } from "../../src/inspect/registry.js";
import { kernelIdentity } from "../../src/inspect/identity.js";
import { decodedStream } from "../../src/formats/compressed/format.js";
import type { Progress } from "../../src/format/types.js";
import { readBytes, requireReal, releaseOf } from "../support/real.js";

const kernels = requireReal("Debian kernels", (f) => f.kind === "kernel");

describe.skipIf(kernels.length === 0)("identity at the default depth, every real kernel", () => {
  for (const f of kernels) {
    it(`${f.path}`, { timeout: 300_000 }, async () => {
      const bytes = readBytes(f.abs);
      const progress: Progress[] = [];
      const result = await inspect(bytes, { decode: "peek", onProgress: (p) => progress.push(p) });
      const id = await kernelIdentity(result, { depth: "headers", bytes });
      console.log(`${f.path}: ${id.version} (${id.sources.version}) build-id ${id.buildId}; decoded ${result.layers.map((l) => l.fields.decodedBytes).filter((v) => v !== undefined).join(",")}`);
      expect(id.version).toBe(releaseOf(f));
      for (const l of result.layers) {
        const s = decodedStream(l);
        if (!s) continue;
        expect(typeof l.fields.decodedBytes).toBe("number");
        expect(l.fields.decodedBytes as number).toBeGreaterThanOrEqual(s.decoded.length);
      }
      if (result.layers.some((l) => l.format === "elf")) expect(id.buildId).toMatch(/^[0-9a-f]{40}$/);
      for (let i = 1; i < progress.length; i++) {
        const a = progress[i - 1] as Progress;
        const b = progress[i] as Progress;
        if (a.phase === b.phase) expect(b.done).toBeGreaterThanOrEqual(a.done);
      }
    });
  }
});
