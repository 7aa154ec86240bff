// arm zImage on synthetic images: the header, the extension table, and the
// payload located from size_ptr backwards — never the first magic: the
// "decompressor" part carries a complete decoy xz stream and a complete
// decoy zstd frame. xz, zstd and lz4 (legacy) payloads; BE8 byte order; an
// appended DTB; and the findings when the table or the stream is missing.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { inspect } from "../../src/inspect/registry.js";
import { locateStreamEndingAt, xzStreamStart, zstdFrameEnd } from "../../src/codecs/streams.js";
import { parseZImage, zImageFormat } from "../../src/formats/zimage/format.js";

const enc = new TextEncoder();
const KERNEL = enc.encode("\x00".repeat(64) + "Linux version 6.1.0-test-armmp (builder@kimage) (gcc) #1 SMP Debian 6.1.0-1\n" + "arm kernel body ".repeat(2000));

function tool(cmd: string, args: string[], input: Uint8Array): Uint8Array {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 26 });
  if (r.status !== 0 || !r.stdout) throw new Error(`${cmd} failed: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}
const XZ = tool("xz", ["--format=xz", "--check=crc32", "-c"], KERNEL);
const ZSTD = tool("zstd", ["-q", "-c", "--no-content-size"], KERNEL);
const LZ4 = tool("lz4", ["-q", "-l", "-c"], KERNEL);
const GZ = tool("gzip", ["-n", "-9", "-c"], KERNEL);
const DECOY_XZ = tool("xz", ["--format=xz", "-c"], enc.encode("decoy inside the decompressor"));
const DECOY_ZSTD = tool("zstd", ["-q", "-c"], enc.encode("decoy zstd frame inside the decompressor".repeat(20)));

interface ZOpts {
  payload?: Uint8Array;
  be8?: boolean;
  noTable?: boolean;
  dtb?: boolean;
  endian?: number;
}

/** A zImage: head (magics at 0x24..0x38), decoys, table, rodata, piggy + le32 size, pad to 8. */
function buildZImage(o: ZOpts = {}): { bytes: Uint8Array; payloadAt: number; sizePtr: number } {
  const payload = o.payload ?? XZ;
  const tableAt = 0x200;
  const table = [6, 0x5a534c4b, 0 /* size_ptr */, 0x5e4d4, 0x208000, 0x10000, 0];
  const rodataAt = tableAt + table.length * 4;
  const decoyAt = rodataAt + 16;
  const zdecoyAt = decoyAt + DECOY_XZ.length + 13;
  const piggyAt = zdecoyAt + DECOY_ZSTD.length + 7;
  const sizePtr = piggyAt + payload.length;
  const end = Math.ceil((sizePtr + 4 + 1) / 8) * 8;
  const dtb = o.dtb ? Uint8Array.from([0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 0x28]) : new Uint8Array(0);
  const bytes = new Uint8Array(end + dtb.length);
  const dv = new DataView(bytes.buffer);
  const w = (at: number, v: number): void => dv.setUint32(at, v >>> 0, !o.be8);
  w(0x24, 0x016f2818);
  w(0x28, 0);
  w(0x2c, end);
  w(0x30, o.endian ?? 0x04030201);
  if (!o.noTable) {
    w(0x34, 0x45454545);
    w(0x38, tableAt);
  }
  table[2] = sizePtr;
  table.forEach((v, i) => w(tableAt + i * 4, v));
  bytes.set(DECOY_XZ, decoyAt);
  bytes.set(DECOY_ZSTD, zdecoyAt);
  bytes.set(payload, piggyAt);
  new DataView(bytes.buffer).setUint32(sizePtr, KERNEL.length, true);
  bytes.set(dtb, end);
  return { bytes, payloadAt: piggyAt, sizePtr };
}

describe("zImage", () => {
  for (const [name, payload, codec, method] of [
    ["xz", XZ, "xz", "xz-index"],
    ["zstd", ZSTD, "zstd", "zstd-blocks"],
    ["lz4 legacy", LZ4, "lz4", "lz4-chunks"],
    ["gzip", GZ, "gzip", "first-magic"],
  ] as const) {
    it(`${name} payload: located from size_ptr, not from the decoys`, async () => {
      const z = buildZImage({ payload });
      const { layers } = await inspect(z.bytes, { formats: [zImageFormat] });
      const l = layers[0];
      if (!l) throw new Error("no layer");
      expect(l.format).toBe("zimage");
      expect(l.payload?.offset).toBe(z.payloadAt);
      expect(l.payload?.codec).toBe(codec);
      expect(l.payload?.expectedSize).toBe(KERNEL.length);
      expect(Buffer.from(l.payload?.bytes ?? []).equals(Buffer.from(payload))).toBe(true);
      expect(l.fields).toMatchObject({ byteOrder: "LE", magic: "0x16f2818", endian: "0x4030201", magic2: "0x45454545", extension_tag_offset: "0x200", krnl_size: { size_ptr: `0x${z.sizePtr.toString(16)}`, bss_size: 0x5e4d4, text_offset: "0x208000", malloc_size: 0x10000 } });
      expect((l.fields.payload as { located: string }).located).toBe(method);
      if (method === "first-magic") expect(l.findings.map((f) => f.code)).toContain("payload-start-heuristic");
      else expect(l.findings).toEqual([]);
    });
  }

  it("the decoys are complete streams that end elsewhere", () => {
    const z = buildZImage();
    const decoyXzEnd = 0x200 + 7 * 4 + 16 + DECOY_XZ.length;
    expect(xzStreamStart(z.bytes, decoyXzEnd)).toBe(decoyXzEnd - DECOY_XZ.length);
    const zAt = decoyXzEnd + 13;
    expect(zstdFrameEnd(z.bytes, zAt)).toBe(zAt + DECOY_ZSTD.length);
    expect(locateStreamEndingAt(z.bytes, 0x200, z.sizePtr)?.start).toBe(z.payloadAt);
  });

  it("BE8: byte-swapped header words", () => {
    const z = buildZImage({ be8: true });
    expect(zImageFormat.probe(z.bytes)).toBe(true);
    const zi = parseZImage(z.bytes);
    expect(zi.byteOrder).toBe("BE8");
    expect(zi.magic).toBe(0x016f2818);
    expect(zi.payload?.offset).toBe(z.payloadAt);
  });

  it("an appended DTB is reported", () => {
    const zi = parseZImage(buildZImage({ dtb: true }).bytes);
    expect(zi.appended).toBe(8);
    expect(zi.appendedDtb).toBe(true);
    expect(zi.payload?.offset).not.toBeUndefined();
  });

  it("no extension table: reported, no payload", () => {
    const zi = parseZImage(buildZImage({ noTable: true }).bytes);
    expect(zi.payload).toBeNull();
    expect(zi.findings.map((f) => f.code)).toContain("payload-not-found");
  });

  it("a wrong endianness flag, a bad range, a broken table and a broken stream are findings", () => {
    expect(parseZImage(buildZImage({ endian: 0x01020304 }).bytes).findings.map((f) => f.code)).toContain("zimage-bad-endian");
    const z = buildZImage();
    const range = z.bytes.slice();
    new DataView(range.buffer).setUint32(0x2c, 0x7fffffff, true);
    expect(parseZImage(range).findings.map((f) => f.code)).toContain("zimage-bad-range");
    const tab = z.bytes.slice();
    new DataView(tab.buffer).setUint32(0x200, 1, true);
    expect(parseZImage(tab).findings.map((f) => f.code)).toContain("zimage-bad-table");
    const stream = z.bytes.slice();
    stream[z.sizePtr - 8] = (stream[z.sizePtr - 8] as number) ^ 0xff; // the xz footer's backward size: CRC fails
    const zi = parseZImage(stream);
    expect(zi.payload).toBeNull();
    expect(zi.findings.map((f) => f.code)).toContain("payload-not-found");
  });

  it("every single-byte mutation of the header and table parses without a non-Kimage error", () => {
    const base = buildZImage().bytes;
    for (let i = 0x24; i < 0x200 + 7 * 4; i += i < 0x3c ? 1 : 0x1c0 - 0x3c + 1) {
      for (const v of [0, 0xff, 0x7f]) {
        const b = base.slice();
        b[i] = v;
        const zi = parseZImage(b);
        expect(zi.findings.every((f) => typeof f.code === "string")).toBe(true);
      }
    }
  });
});
