// decode "scan" on a real x86 kernel (pe → bzimage → xz → elf): the stream is decoded to its end
// through the streaming decoder but only the start and the tail are kept; the layers' JSON and the
// identity equal those of decode "full", apart from the codec layer's "scan-kept" finding.
import { describe, expect, it } from "vitest";
import { inspect } from "../../src/inspect/registry.js";
import { kernelIdentity } from "../../src/inspect/identity.js";
import { decodedStream } from "../../src/formats/compressed/format.js";
import { streamingCodecs } from "../../src/codecs/stream.js";
import { readBytes, requireReal } from "../support/real.js";

const kernels = requireReal("Debian bookworm amd64 kernel", (f) => f.kind === "kernel" && f.suite === "bookworm" && f.arch === "amd64" && !f.signedPackage);

const json = (layers: { payload?: unknown }[]): unknown => JSON.parse(JSON.stringify(layers.map(({ payload: _p, ...l }) => l)));

describe.skipIf(kernels.length === 0 || !streamingCodecs().includes("xz"))("decode scan on a real xz kernel", () => {
  const f = kernels[0];
  it(`${f?.path}`, { timeout: 600_000 }, async () => {
    if (!f) return;
    const bytes = readBytes(f.abs);
    const full = await inspect(bytes, { decode: "full" });
    const idFull = await kernelIdentity(full, { depth: "full", bytes });
    const scan = await inspect(bytes, { decode: "scan" });
    const idScan = await kernelIdentity(scan, { depth: "full", bytes });
    const codecAt = scan.layers.findIndex((l) => decodedStream(l) !== undefined);
    const s = decodedStream(scan.layers[codecAt]);
    expect(s?.holes?.length).toBeGreaterThan(0);
    const scanLayers = json(scan.layers) as { findings: { code: string }[] }[];
    const c = scanLayers[codecAt] as { findings: { code: string }[] };
    expect(c.findings.map((x) => x.code)).toContain("scan-kept");
    c.findings = c.findings.filter((x) => x.code !== "scan-kept");
    expect(scanLayers).toEqual(json(full.layers));
    expect({ ...idScan, searched: 0 }).toEqual({ ...idFull, searched: 0 });
  });
});
