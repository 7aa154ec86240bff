// The .hwids table (src/boot/chid.h Device entries, as ukify's parse_hwid_dir
// packs them): read back, and every hostile offset or truncation is a typed
// `truncated` error at the absolute offset of the field.
import { describe, expect, it } from "vitest";
import { parseHwids } from "../../src/formats/pe/uki/dtb.js";
import { HWID_DEVICE_SIZE } from "../../src/formats/pe/uki/spec.js";

/** A table the way ukify packs it: entries, an all-zero entry, then the strings. */
function table(devices: { chid: number[]; name: string; compatible: string; type?: number }[]): Uint8Array {
  const strings: string[] = [...new Set(devices.flatMap((d) => [d.name, d.compatible]))].sort();
  const base = (devices.length + 1) * HWID_DEVICE_SIZE;
  const offsets = new Map<string, number>();
  let at = base;
  for (const s of strings) {
    offsets.set(s, at);
    at += s.length + 1;
  }
  const out = new Uint8Array(at);
  const v = new DataView(out.buffer);
  devices.forEach((d, i) => {
    const o = i * HWID_DEVICE_SIZE;
    v.setUint32(o, ((d.type ?? 1) << 28) | HWID_DEVICE_SIZE, true);
    out.set(d.chid, o + 4);
    v.setUint32(o + 20, offsets.get(d.name) as number, true);
    v.setUint32(o + 24, offsets.get(d.compatible) as number, true);
  });
  for (const s of strings) out.set(new TextEncoder().encode(s), offsets.get(s) as number);
  return out;
}

const CHID = [0x0e, 0x1c, 0x6e, 0x4c, 0x1a, 0x8c, 0x5c, 0x5a, 0x9a, 0x43, 0x0a, 0x8b, 0x6b, 0x2f, 0x6b, 0x01];

describe("parseHwids", () => {
  it("reads devices, with the EFI_GUID's mixed-endian bytes as a UUID, and skips other device types", () => {
    const t = table([
      { chid: CHID, name: "Board A", compatible: "kimage,board-a" },
      { chid: CHID, name: "Firmware", compatible: "kimage,fw", type: 2 },
    ]);
    expect(parseHwids(t)).toEqual([{ chid: "4c6e1c0e-8c1a-5a5c-9a43-0a8b6b2f6b01", name: "Board A", compatible: "kimage,board-a" }]);
  });

  it("a string offset past the section, a string without NUL, a table without its zero entry: truncated", () => {
    const t = table([{ chid: CHID, name: "Board A", compatible: "kimage,board-a" }]);
    const far = t.slice();
    new DataView(far.buffer).setUint32(20, t.length + 5, true);
    expect(() => parseHwids(far, 0x1000)).toThrow(expect.objectContaining({ code: "truncated" }));
    const noNul = t.subarray(0, t.length - 1);
    expect(() => parseHwids(noNul)).toThrow(expect.objectContaining({ code: "truncated" }));
    const noEnd = t.subarray(0, HWID_DEVICE_SIZE + 2);
    expect(() => parseHwids(noEnd)).toThrow(expect.objectContaining({ code: "truncated" }));
    expect(parseHwids(t)).toHaveLength(1);
  });
});
