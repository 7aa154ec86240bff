// s390 image on synthetic images: IPL PSW and CCWs, "S390EP", the parmarea
// (kernel_version pointer, command line), the Secure Boot trailer, and the
// payload located from the size trailer before the zero fill — with a decoy
// complete zstd frame, 8-aligned, inside the "decompressor", and size
// trailers whose high bytes are zero (the zero-fill ambiguity).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { inspect } from "../../src/inspect/registry.js";
import { parseS390Image, s390ImageFormat } from "../../src/formats/s390/format.js";

const enc = new TextEncoder();
const KERNEL = enc.encode("s390 kernel body ".repeat(3000) + "Linux version 6.1.0-test-s390x (builder@kimage) #1 SMP Debian 6.1.0-1\n");

function tool(cmd: string, args: string[], input: Uint8Array): Uint8Array {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 26 });
  if (r.status !== 0 || !r.stdout) throw new Error(`${cmd} failed`);
  return new Uint8Array(r.stdout);
}
const XZ = tool("xz", ["--format=xz", "--check=crc32", "-c"], KERNEL);
const ZSTD = tool("zstd", ["-q", "-c", "--no-content-size"], KERNEL);
const DECOY = tool("zstd", ["-q", "-c"], enc.encode("738-byte-like decoy frame in the decompressor ".repeat(30)));
const VERSION = "6.1.0-test-s390x (builder@kimage) #1 SMP Debian 6.1.0-1 (2026-01-01)";

/** An s390 image: IPL header, S390EP, parmarea, decompressor with a decoy, payload at ALIGN(8), size, zero fill, sb trailer. */
function buildS390(payload: Uint8Array, o: { sbTrailer?: boolean; noParm?: boolean } = {}): { bytes: Uint8Array; payloadAt: number } {
  const decoyAt = 0x12000; // 8-aligned, after EARLY_SCCB_OFFSET
  const payloadAt = Math.ceil((decoyAt + DECOY.length + 100) / 8) * 8;
  const compressedEnd = payloadAt + payload.length + 4;
  const size = Math.ceil((compressedEnd + 32) / 4096) * 4096;
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  // head.S: ".long 0x00080000,0x80000000+iplstart", ".long 0x02000018,0x60000050", ".long 0x02000068,0x60000050"
  [0x00080000, 0x80000200, 0x02000018, 0x60000050, 0x02000068, 0x60000050].forEach((v, i) => dv.setUint32(i * 4, v, false));
  bytes.set(enc.encode("S390EP"), 0x10008);
  bytes[0x1000e] = 0;
  bytes[0x1000f] = 1;
  if (!o.noParm) {
    dv.setBigUint64(0x10408, 0x2000000n, false); // initrd_start
    dv.setBigUint64(0x10410, 0x123456n, false); // initrd_size
    dv.setBigUint64(0x10428, 0x11800n, false); // kernel_version pointer
    dv.setBigUint64(0x10430, 0x1000n, false); // max_command_line_size
    bytes.set(enc.encode("root=/dev/ram0 ro\0"), 0x10480);
    bytes.set(enc.encode(`${VERSION}\0`), 0x11800);
  }
  bytes.set(DECOY, decoyAt);
  bytes.set(payload, payloadAt);
  dv.setUint32(payloadAt + payload.length, KERNEL.length, true); // size_append: le32
  if (o.sbTrailer !== false) dv.setBigUint64(size - 8, 0x000000207a49504cn, false);
  return { bytes, payloadAt };
}

describe("s390 image", () => {
  for (const [codec, payload, method] of [
    ["xz", XZ, "xz-index"],
    ["zstd", ZSTD, "zstd-blocks"],
  ] as const) {
    it(`${codec} payload located from the trailer (size ${KERNEL.length} has zero high bytes), not the decoy`, async () => {
      const s = buildS390(payload);
      expect((KERNEL.length >>> 24) & 0xff).toBe(0);
      const { layers } = await inspect(s.bytes, { formats: [s390ImageFormat] });
      const l = layers[0];
      if (!l) throw new Error("no layer");
      expect(l.format).toBe("s390-image");
      expect(l.payload?.offset).toBe(s.payloadAt);
      expect(l.payload?.codec).toBe(codec);
      expect(l.payload?.expectedSize).toBe(KERNEL.length);
      expect(Buffer.from(l.payload?.bytes ?? []).equals(Buffer.from(payload))).toBe(true);
      expect(l.fields).toMatchObject({
        ipl_psw: { mask: "0x80000", address: "0x200", amode31: true },
        ccws: [
          { cmd: "0x2", address: "0x18", flags: "0x60", count: 80 },
          { cmd: "0x2", address: "0x68", flags: "0x60", count: 80 },
        ],
        entryPoints: 1,
        parmarea: { initrd_start: "0x2000000", initrd_size: "0x123456", kernel_version: "0x11800", max_command_line_size: "0x1000", command_line: "root=/dev/ram0 ro" },
        kernelVersion: VERSION,
        sbTrailer: true,
        payload: { located: method },
      });
      expect(l.findings).toEqual([]);
    });
  }

  it("without the Secure Boot trailer the zero fill still ends the search", () => {
    const s = buildS390(XZ, { sbTrailer: false });
    const img = parseS390Image(s.bytes);
    expect(img.sbTrailer).toBe(false);
    expect(img.payload?.offset).toBe(s.payloadAt);
  });

  it("probe: IPL PSW, a read CCW and S390EP", () => {
    const s = buildS390(XZ);
    expect(s390ImageFormat.probe(s.bytes)).toBe(true);
    const b = s.bytes.slice();
    b[0x10008] = 0x41;
    expect(s390ImageFormat.probe(b)).toBe(false);
    expect(s390ImageFormat.probe(s.bytes.subarray(0, 0x10000))).toBe(false);
  });

  it("a truncated image: parmarea and payload findings", () => {
    const img = parseS390Image(buildS390(XZ).bytes.subarray(0, 0x10100));
    expect(img.parmarea).toBeNull();
    expect(img.findings.map((f) => f.code)).toEqual(["s390-bad-parmarea", "payload-not-found"]);
  });

  it("a broken stream end is not papered over by a magic", () => {
    const s = buildS390(XZ);
    const b = s.bytes.slice();
    b[s.payloadAt + XZ.length - 7] = (b[s.payloadAt + XZ.length - 7] as number) ^ 0x55; // footer backward size
    const img = parseS390Image(b);
    expect(img.payload).toBeNull();
    expect(img.findings.map((f) => f.code)).toContain("payload-not-found");
  });
});
