/**
 * The format contract's hooks and typed layers: a codec layer asks the
 * hooks of the probe table it is given (never a format it imports), and a
 * layer keeps its typed header out of every JSON view.
 */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decompressSync, type DecompressOptions } from "../../src/codecs/index.js";
import { arm64ImageFormat, type Arm64Header } from "../../src/formats/arm64/image.js";
import { createCompressedFormats, decodedStream, PEEK_BYTES } from "../../src/formats/compressed/format.js";
import { peFormat } from "../../src/formats/pe/format.js";
import { layerHeader } from "../../src/format/layer.js";
import { hookedFormat } from "../../src/format/table.js";
import type { FormatModule, Layer } from "../../src/format/types.js";
import { kernelIdentity } from "../../src/inspect/identity.js";
import { findLayer, inspect } from "../../src/inspect/registry.js";
import { DUMMY_DER, MACHINE_ARM64, buildPe } from "../support/pe-builder.js";

function arm64Image(size = 300_000): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(8, 0x80000n, true);
  dv.setBigUint64(16, BigInt(size), true);
  dv.setBigUint64(24, 0xan, true);
  dv.setUint32(0x38, 0x644d5241, true);
  for (let i = 64; i < size; i++) b[i] = (i % 97) ^ ((i >> 9) & 0xff);
  return b;
}

/** A format of its own: "Z" at 0, needing `need` bytes for inspection. */
function fakeFormat(need: number | null): FormatModule {
  return {
    id: "fake",
    description: "test format",
    probe: (b) => b[0] === 0x5a,
    parse: (b, ctx) => ({ format: "fake", offset: ctx.offset, size: b.length, summary: "fake", fields: {}, findings: [] }),
    inspectionPrefix: () => need,
  };
}

const codecs = createCompressedFormats();

describe("typed layers", () => {
  it("keep the parsed header beside the fields, out of JSON, spread and key lists", async () => {
    const image = arm64Image();
    const gz = new Uint8Array(gzipSync(image));
    const result = await inspect(gz, { formats: [arm64ImageFormat, ...codecs] });
    const [codecLayer, imageLayer] = result.layers as [Layer, Layer];
    const h: Arm64Header | undefined = layerHeader(imageLayer, arm64ImageFormat);
    expect(h).toMatchObject({ text_offset: 0x80000n, image_size: BigInt(image.length), flags: 0xan, pageSize: "4K" });
    expect(layerHeader(codecLayer, arm64ImageFormat)).toBeUndefined();
    expect(decodedStream(codecLayer)).toMatchObject({ codec: "gzip", complete: true, consumed: gz.length, trim: null });
    expect(decodedStream(imageLayer)).toBeUndefined();
    for (const l of result.layers) {
      expect(Object.keys(l)).not.toContain("header");
      expect(JSON.parse(JSON.stringify(l, (k, v: unknown) => (k === "payload" ? undefined : v)))).not.toHaveProperty("header");
      expect({ ...l }).not.toHaveProperty("header");
      expect(l).toHaveProperty("header");
    }
    const found = findLayer(result, arm64ImageFormat);
    expect(found?.index).toBe(1);
    expect(found?.header).toBe(h);
    expect(found?.input).toBe(codecLayer.payload?.bytes);
    expect(findLayer(result, peFormat)).toBeNull();
  });
});

describe("format hooks", () => {
  it("peek: the codec layer decodes as far as the inspectionPrefix hook of the table's format says", async () => {
    const data = new Uint8Array(300_000).fill(7);
    data[0] = 0x5a;
    const gz = new Uint8Array(gzipSync(data));
    const withHook = await inspect(gz, { formats: [fakeFormat(100_000), ...codecs], decode: "peek" });
    expect(withHook.layers[0]?.fields).toMatchObject({ decoded: 100_000, complete: false });
    const noAnswer = await inspect(gz, { formats: [fakeFormat(null), ...codecs], decode: "peek" });
    expect(noAnswer.layers[0]?.fields.decoded).toBe(PEEK_BYTES);
    const noFormat = await inspect(gz, { formats: codecs, decode: "peek" });
    expect(noFormat.layers[0]?.fields.decoded).toBe(PEEK_BYTES);
  });

  it("full: a signed PE is trimmed by the PE format's trimPadding hook wherever the table puts it, and only when the table has it", async () => {
    const signed = buildPe({ machine: MACHINE_ARM64, e_lfanew: 0x40, certificates: [{ content: DUMMY_DER }] }).bytes;
    const padded = new Uint8Array(signed.length + 4096);
    padded.set(signed);
    const gz = new Uint8Array(gzipSync(padded));
    const other: FormatModule = { ...fakeFormat(null), probe: () => true };
    for (const table of [[peFormat, ...codecs], [other, peFormat, ...codecs]]) {
      const l = await codecs[0]!.parse(gz, { offset: 0, formats: table });
      expect(l.fields.cut).toMatchObject({ at: signed.length, dropped: 4096 });
      expect(l.payload?.bytes.length).toBe(signed.length);
      expect(decodedStream(l)?.decoded.length).toBe(padded.length);
    }
    const bare = await codecs[0]!.parse(gz, { offset: 0, formats: codecs });
    expect(bare.fields.cut).toBeUndefined();
    expect(hookedFormat(signed, [other, peFormat], "trimPadding")).toBe(peFormat);
    expect(hookedFormat(signed, [other], "trimPadding")).toBeNull();
  });

  it("kernelIdentity reuses a stream the codec layer decoded to its end", async () => {
    const image = arm64Image();
    image.set(new TextEncoder().encode("Linux version 6.1.0-hooks (b@h) (gcc) #1 SMP\n"), 200_000);
    const gz = new Uint8Array(gzipSync(image));
    // A container layer that names the codec, so identity looks at its payload.
    const box: FormatModule = {
      id: "box",
      description: "test container",
      probe: (b) => b[0] === 0x42,
      parse: (b, ctx) => ({ format: "box", offset: ctx.offset, size: b.length, summary: "box", fields: {}, findings: [], payload: { bytes: b.subarray(1), offset: 1, codec: "gzip" } }),
    };
    const file = new Uint8Array([0x42, ...gz]);
    const result = await inspect(file, { formats: [box, arm64ImageFormat, ...codecs] });
    const stream = decodedStream(result.layers[1]);
    expect(stream?.complete).toBe(true);
    let decodes = 0;
    const counting = { decoders: { gzip: (input: Uint8Array, o: DecompressOptions) => (decodes++, decompressSync(input, "gzip", o)) } };
    const id = await kernelIdentity(result, { depth: "full", providers: counting });
    expect(id.version).toBe("6.1.0-hooks");
    expect(id.searched).toBe(image.length);
    expect(decodes).toBe(0);
  });
});
