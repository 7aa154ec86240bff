// bzImage on synthetic images: every setup header field by name, protocol
// gating (fields newer than the file's protocol are null), kernel_info, the
// CRC-32, the payload and its trailer; and one mutation per check of the
// kernel's bzImage64_probe, each with its exact message and a typed code.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bzImageFormat, parseBzImage } from "../../src/formats/bzimage/format.js";
import { crc32 } from "../../src/codecs/crc32.js";
import { isKimageError } from "../../src/core/errors.js";
import { inspect } from "../../src/inspect/registry.js";
import { buildElf } from "../support/elf-builder.js";

const enc = new TextEncoder();
const VERSION_STRING = "6.1.0-test-amd64 (builder@kimage) #1 SMP PREEMPT_DYNAMIC Debian 6.1.0-1 (2026-01-01)";

/** The test kernel: an ELF64 vmlinux, xz-compressed by the xz CLI (crc32 check, as the kernel build). */
function payloadBytes(): { compressed: Uint8Array; size: number } {
  const elf = buildElf({ class: 64, le: true, notes: [{ owner: "GNU", type: 3, desc: new Uint8Array(20).fill(7) }] }).bytes;
  const r = spawnSync("xz", ["--format=xz", "--check=crc32", "-c"], { input: elf, maxBuffer: 1 << 24 });
  if (r.status !== 0 || !r.stdout) throw new Error("xz failed");
  return { compressed: new Uint8Array(r.stdout), size: elf.length };
}
const PAYLOAD = payloadBytes();

interface Opts {
  version?: number;
  setupSects?: number;
  loadflags?: number;
  xloadflags?: number;
  noHdrS?: boolean;
  bootFlag?: number;
  kernelInfo?: boolean;
}

/** A bzImage with the given header values; returns the bytes and where things are. */
function buildBzImage(o: Opts = {}): { bytes: Uint8Array; setupSize: number; payloadAt: number } {
  const sects = o.setupSects ?? 4;
  const setupSize = ((sects || 4) + 1) * 512;
  const pmHead = 0x100; // protected-mode code before the payload
  const kinfoAt = pmHead + PAYLOAD.compressed.length + 4;
  const kinfo = new Uint8Array(16);
  kinfo.set(enc.encode("LToP"));
  const kdv = new DataView(kinfo.buffer);
  kdv.setUint32(4, 16, true);
  kdv.setUint32(8, 16, true);
  kdv.setUint32(12, 0x80000009, true);
  const pmSize = Math.ceil((kinfoAt + kinfo.length + 4) / 16) * 16;
  const bytes = new Uint8Array(setupSize + pmSize);
  const dv = new DataView(bytes.buffer);
  bytes[0x1f1] = sects;
  dv.setUint16(0x1f2, 1, true); // root_flags
  dv.setUint32(0x1f4, pmSize / 16, true); // syssize
  dv.setUint16(0x1fa, 0xffff, true); // vid_mode
  dv.setUint16(0x1fe, o.bootFlag ?? 0xaa55, true);
  dv.setUint16(0x200, 0x6aeb, true); // jump
  if (!o.noHdrS) bytes.set(enc.encode("HdrS"), 0x202);
  dv.setUint16(0x206, o.version ?? 0x020f, true);
  dv.setUint16(0x20c, 0x1000, true);
  const kv = 0x400; // string at 0x600, inside the setup
  dv.setUint16(0x20e, kv, true);
  bytes.set(enc.encode(`${VERSION_STRING}\0`), kv + 0x200);
  bytes[0x211] = o.loadflags ?? 1;
  dv.setUint16(0x212, 0x8000, true);
  dv.setUint32(0x214, 0x100000, true);
  dv.setUint16(0x224, 0x5be0, true);
  dv.setUint32(0x22c, 0x7fffffff, true);
  dv.setUint32(0x230, 0x200000, true);
  bytes[0x234] = 1;
  bytes[0x235] = 21;
  dv.setUint16(0x236, o.xloadflags ?? 0x7f, true);
  dv.setUint32(0x238, 2047, true);
  dv.setUint32(0x248, pmHead, true); // payload_offset
  dv.setUint32(0x24c, PAYLOAD.compressed.length + 4, true); // payload_length, with the trailer
  dv.setBigUint64(0x258, 0x1000000n, true);
  dv.setUint32(0x260, 0x3f97000, true);
  dv.setUint32(0x264, 0x190, true);
  if (o.kernelInfo !== false) dv.setUint32(0x268, kinfoAt, true);
  const payloadAt = setupSize + pmHead;
  bytes.set(PAYLOAD.compressed, payloadAt);
  dv.setUint32(payloadAt + PAYLOAD.compressed.length, PAYLOAD.size, true);
  bytes.set(kinfo, setupSize + kinfoAt);
  // The boot image CRC-32, stored without the final inversion, in the last 4 bytes.
  const end = setupSize + pmSize;
  dv.setUint32(end - 4, ~crc32(bytes.subarray(0, end - 4)) >>> 0, true);
  return { bytes, setupSize, payloadAt };
}

describe("bzImage header", () => {
  it("parses every field of a 2.15 header by its spec name", async () => {
    const b = buildBzImage();
    const { layers } = await inspect(b.bytes, { formats: [bzImageFormat] });
    const l = layers[0];
    if (!l) throw new Error("no layer");
    expect(l.format).toBe("bzimage");
    const f = l.fields;
    expect(f.protocol).toBe("2.15");
    expect(f).toMatchObject({
      setup_sects: 4,
      root_flags: 1,
      syssize: (b.bytes.length - b.setupSize) / 16,
      ram_size: 0,
      vid_mode: 0xffff,
      root_dev: 0,
      boot_flag: 0xaa55,
      jump: 0x6aeb,
      header: "HdrS",
      version: 0x20f,
      realmode_swtch: 0,
      start_sys_seg: 0x1000,
      kernel_version: 0x400,
      type_of_loader: 0,
      loadflags: 1,
      setup_move_size: 0x8000,
      code32_start: 0x100000,
      ramdisk_image: 0,
      ramdisk_size: 0,
      bootsect_kludge: 0,
      heap_end_ptr: 0x5be0,
      ext_loader_ver: 0,
      ext_loader_type: 0,
      cmd_line_ptr: 0,
      initrd_addr_max: 0x7fffffff,
      kernel_alignment: 0x200000,
      relocatable_kernel: 1,
      min_alignment: 21,
      xloadflags: 0x7f,
      cmdline_size: 2047,
      hardware_subarch: 0,
      hardware_subarch_data: "0x0",
      payload_offset: 0x100,
      payload_length: PAYLOAD.compressed.length + 4,
      setup_data: "0x0",
      pref_address: "0x1000000",
      init_size: 0x3f97000,
      handover_offset: 0x190,
      kernelVersion: VERSION_STRING,
      loadflagsNames: ["LOADED_HIGH"],
      xloadflagsNames: ["XLF_KERNEL_64", "XLF_CAN_BE_LOADED_ABOVE_4G", "XLF_EFI_HANDOVER_32", "XLF_EFI_HANDOVER_64", "XLF_EFI_KEXEC", "XLF_5LEVEL", "XLF_5LEVEL_ENABLED"],
      kexecLoadable: true,
      kexecErrors: [],
      kernel_info: { header: "LToP", size: 16, size_total: 16, setup_type_max: 0x80000009 },
      crc32: { ok: true },
      payload: { offset: b.payloadAt, codec: "xz", compressedSize: PAYLOAD.compressed.length, uncompressedSize: PAYLOAD.size },
    });
    expect(l.findings).toEqual([]);
    expect(l.payload?.codec).toBe("xz");
    expect(l.payload?.expectedSize).toBe(PAYLOAD.size);
    expect(l.payload?.offset).toBe(b.payloadAt);
    expect(Buffer.from(l.payload?.bytes ?? []).equals(Buffer.from(PAYLOAD.compressed))).toBe(true);
    expect(JSON.parse(JSON.stringify(l.fields))).toEqual(l.fields);
  });

  it("XLF_MEM_ENCRYPTION and unknown xloadflags bits are named", () => {
    const bz = parseBzImage(buildBzImage({ xloadflags: 0x183 }).bytes);
    expect(bz.header.xloadflags).toBe(0x183);
    const layer = bzImageFormat.parse(buildBzImage({ xloadflags: 0x183 }).bytes, { offset: 0 }) as { fields: Record<string, unknown> };
    expect(layer.fields.xloadflagsNames).toEqual(["XLF_KERNEL_64", "XLF_CAN_BE_LOADED_ABOVE_4G", "XLF_MEM_ENCRYPTION", "0x100"]);
  });

  it("fields newer than the file's protocol are null (2.01, 2.04, 2.10, 2.12)", () => {
    const h201 = parseBzImage(buildBzImage({ version: 0x0201 }).bytes).header;
    expect(h201.heap_end_ptr).toBe(0x5be0);
    expect(h201.cmd_line_ptr).toBeNull();
    expect(h201.ext_loader_ver).toBeNull();
    expect(h201.kernel_alignment).toBeNull();
    expect(h201.xloadflags).toBeNull();
    expect(h201.payload_offset).toBeNull();
    expect(h201.kernel_info_offset).toBeNull();
    // "For protocol versions older than 2.04 this field is only two bytes wide"
    const b = buildBzImage({ version: 0x0203 });
    const sys = new DataView(b.bytes.buffer).getUint32(0x1f4, true);
    expect(parseBzImage(b.bytes).header.syssize).toBe(sys & 0xffff);
    const h210 = parseBzImage(buildBzImage({ version: 0x020a }).bytes).header;
    expect(h210.min_alignment).toBe(21);
    expect(h210.init_size).toBe(0x3f97000);
    expect(h210.handover_offset).toBeNull();
    expect(h210.xloadflags).toBeNull();
    const h212 = parseBzImage(buildBzImage({ version: 0x020c }).bytes);
    expect(h212.header.xloadflags).toBe(0x7f);
    expect(h212.header.kernel_info_offset).toBeNull();
    expect(h212.kernelInfo).toBeNull();
    expect(h212.kexecErrors).toEqual([]);
  });

  it("an \"old\" image without HdrS: only the ALL fields", () => {
    const bz = parseBzImage(buildBzImage({ noHdrS: true }).bytes);
    expect(bz.protocol).toBe("old");
    expect(bz.header.header).toBeNull();
    expect(bz.header.version).toBeNull();
    expect(bz.header.boot_flag).toBe(0xaa55);
    expect(bz.payload).toBeNull();
    expect(bzImageFormat.probe(buildBzImage({ noHdrS: true }).bytes)).toBe(false);
  });

  it("a 32-bit bzImage is reported, not kexec-loadable as a bzImage64", async () => {
    const { layers } = await inspect(buildBzImage({ xloadflags: 0x0c }).bytes, { formats: [bzImageFormat] });
    expect(layers[0]?.summary).toContain("32-bit");
    expect(layers[0]?.fields.kexecLoadable).toBe(false);
    expect(layers[0]?.payload?.codec).toBe("xz");
  });

  it("kernel_info that is not \"LToP\" is a finding", () => {
    const b = buildBzImage();
    const dv = new DataView(b.bytes.buffer);
    dv.setUint32(0x268, 0x10, true);
    const bz = parseBzImage(b.bytes);
    expect(bz.kernelInfo).toBeNull();
    expect(bz.findings.map((f) => f.code)).toContain("bzimage-bad-kernel-info");
  });

  it("a payload outside the file is a finding, and no payload is handed on", () => {
    const b = buildBzImage();
    new DataView(b.bytes.buffer).setUint32(0x24c, 0x7fffffff, true);
    const layer = bzImageFormat.parse(b.bytes, { offset: 0 }) as { findings: Array<{ code: string }>; payload?: unknown };
    expect(layer.findings.map((f) => f.code)).toContain("bzimage-payload-out-of-bounds");
    expect(layer.payload).toBeUndefined();
  });

  it("a changed byte breaks the CRC-32 (info finding)", () => {
    const b = buildBzImage();
    b.bytes[0x300] = 0x55;
    const bz = parseBzImage(b.bytes);
    expect(bz.crc?.ok).toBe(false);
    expect(bz.findings.map((f) => f.code)).toContain("bzimage-crc-mismatch");
  });
});

describe("bzImage64_probe checks (arch/x86/kernel/kexec-bzimage64.c), one mutation each", () => {
  const cases: Array<[string, () => Uint8Array, string, string]> = [
    ["shorter than two sectors", () => buildBzImage().bytes.slice(0, 1000), "bzimage-too-short", "File is too short to be a bzImage"],
    ["no HdrS", () => buildBzImage({ noHdrS: true }).bytes, "bzimage-no-hdrs", "Not a bzImage"],
    ["boot_flag is not 0xAA55", () => buildBzImage({ bootFlag: 0x55aa }).bytes, "bzimage-no-boot-flag", "No x86 boot sector present"],
    ["protocol 2.11", () => buildBzImage({ version: 0x020b }).bytes, "bzimage-old-protocol", "Must be at least protocol version 2.12"],
    ["LOADED_HIGH clear", () => buildBzImage({ loadflags: 0x80 }).bytes, "bzimage-not-loaded-high", "zImage not a bzImage"],
    ["XLF_KERNEL_64 clear", () => buildBzImage({ xloadflags: 0x7e }).bytes, "bzimage-not-64", "Not a bzImage64. XLF_KERNEL_64 is not set."],
    ["XLF_CAN_BE_LOADED_ABOVE_4G clear", () => buildBzImage({ xloadflags: 0x7d }).bytes, "bzimage-not-above-4g", "XLF_CAN_BE_LOADED_ABOVE_4G is not set."],
  ];
  for (const [what, make, code, message] of cases) {
    it(`${what} → ${code}: "${message}"`, () => {
      const bytes = make();
      const layer = bzImageFormat.parse(bytes, { offset: 0 }) as { fields: Record<string, unknown>; findings: Array<{ code: string; message: string }> };
      expect(layer.fields.kexecLoadable).toBe(false);
      const first = (layer.fields.kexecErrors as Array<{ code: string; message: string }>)[0];
      expect(first).toMatchObject({ code, message });
      expect(layer.findings.find((f) => f.code === code)?.message).toBe(`kexec bzImage64_probe: ${message}`);
    });
  }

  it("the kernel's order: the first failing check comes first", () => {
    const bz = parseBzImage(buildBzImage({ version: 0x0201, loadflags: 0, xloadflags: 0 }).bytes);
    expect(bz.kexecErrors.map((c) => c.code)).toEqual(["bzimage-old-protocol", "bzimage-not-loaded-high", "bzimage-not-64", "bzimage-not-above-4g"]);
  });

  it("a setup past the end of the file is reported (kexec: \"bzImage truncated\")", () => {
    const bz = parseBzImage(buildBzImage({ setupSects: 60 }).bytes.slice(0, 4096));
    expect(bz.findings.map((f) => f.code)).toContain("bzimage-truncated");
  });

  it("a buffer too short for setup_sects throws truncated; every single-byte mutation of the header parses", () => {
    try {
      parseBzImage(new Uint8Array(0x100));
      throw new Error("did not throw");
    } catch (e) {
      expect(isKimageError(e, "truncated")).toBe(true);
    }
    const base = buildBzImage().bytes;
    for (let i = 0x1f1; i < 0x270; i++) {
      for (const v of [0, 0xff, 0x80]) {
        const b = base.slice();
        b[i] = v;
        const layer = bzImageFormat.parse(b, { offset: 0 }) as { fields: unknown };
        expect(JSON.parse(JSON.stringify(layer.fields))).toEqual(layer.fields);
      }
    }
  });
});
