// The x86_64 plan against arch/x86/kernel/kexec-bzimage64.c: the probe and
// command-line rules with the kernel's exact messages (mutating a real
// Debian bzImage's header bytes), struct boot_params decoded independently
// here at bootparam.h's offsets, the 128-entry e820 limit, and the placement
// rules against hand computation.
import { describe, expect, it } from "vitest";
import { KimageError } from "../../src/core/errors.js";
import {
  bootParamsLayout,
  buildBootParams,
  e820FromMemoryMap,
  kexecCmdlineBytes,
  setupHeaderSize,
  type BootE820Entry,
} from "../../src/plan/protocol/bootparams.js";
import { memoryMap, type MemoryMap } from "../../src/plan/core/memory.js";
import type { Plan } from "../../src/plan/table.js";
import { planX86_64, x86ProbeAndLoadChecks, type X86Entry32, type X86PlanInput } from "../../src/plan/arch/x86.js";
import { readBytes, requireReal } from "../support/real.js";

const real = requireReal("trixie amd64 kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "trixie" && !f.signedPackage);
const MIB = 0x100000n;
const GIB = 0x40000000n;
const RAM512: MemoryMap = memoryMap([{ start: 0n, size: 512n * MIB, type: "ram" }]);

// Independent little-endian readers (the test does not use the code under test to decode).
const le = (b: Uint8Array, off: number, n: number): bigint => {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[off + i]!);
  return v;
};
const u8 = (b: Uint8Array, o: number) => Number(le(b, o, 1));
const u16 = (b: Uint8Array, o: number) => Number(le(b, o, 2));
const u32 = (b: Uint8Array, o: number) => Number(le(b, o, 4));
const u64 = (b: Uint8Array, o: number) => le(b, o, 8);
const put = (b: Uint8Array, off: number, n: number, v: number | bigint) => {
  let x = BigInt(v);
  for (let i = 0; i < n; i++) {
    b[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
};

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<KimageError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof KimageError) return e;
    throw e;
  }
  throw new Error("expected a KimageError");
}

describe.skipIf(real.length === 0)("x86_64 plan on the trixie amd64 kernel", () => {
  const original = real.length ? readBytes(real[0]!.abs) : new Uint8Array(0);
  // bzImage64_load never reads the payload. With payload_length (0x24c) pointing past the end of
  // the file, kimage's inspector stops decompressing the 60 MB payload for every plan (0.7 s -> 30 ms);
  // one test below plans the untouched file.
  const kernel = original.slice();
  if (kernel.length > 0x250) put(kernel, 0x24c, 4, 0xffffffff);
  const mutated = (edit: (b: Uint8Array) => void) => {
    const b = kernel.slice();
    edit(b);
    return b;
  };
  const plan = (over: Partial<X86PlanInput> = {}) => planX86_64({ kernel, memory: RAM512, ...over });

  describe("bzImage64_probe and bzImage64_load refusals, with the kernel's messages", () => {
    // The probe reads only the header: a 1 MiB head of the file is enough for these.
    const head = (edit: (b: Uint8Array) => void) => {
      const b = kernel.slice(0, 1 << 20);
      edit(b);
      return b;
    };
    const ok = { cmdlineLen: 10 };
    it.each([
      ["File is too short to be a bzImage", () => kernel.slice(0, 1023)],
      ["Not a bzImage", () => head((b) => (b[0x202] = 0x58))],
      ["No x86 boot sector present", () => head((b) => put(b, 0x1fe, 2, 0x55aa))],
      ["Must be at least protocol version 2.12", () => head((b) => put(b, 0x206, 2, 0x20b))],
      ["zImage not a bzImage", () => head((b) => (b[0x211] = b[0x211]! & ~1))],
      ["Not a bzImage64. XLF_KERNEL_64 is not set.", () => head((b) => put(b, 0x236, 2, u16(b, 0x236) & ~1))],
      ["XLF_CAN_BE_LOADED_ABOVE_4G is not set.", () => head((b) => put(b, 0x236, 2, u16(b, 0x236) & ~2))],
    ])("%s", async (message, make) => {
      const e = await refusal(() => x86ProbeAndLoadChecks(make(), ok));
      expect(e.code).toBe("plan-refused");
      expect(e.message).toBe(message);
    });

    it("protocol 2.12 is accepted, 2.11 is not", () => {
      expect(() => x86ProbeAndLoadChecks(head((b) => put(b, 0x206, 2, 0x20c)), ok)).not.toThrow();
    });

    it("5-level paging: refused only when the target uses it and XLF_5LEVEL is clear", async () => {
      const no5 = head((b) => put(b, 0x236, 2, u16(b, 0x236) & ~(1 << 5)));
      expect(() => x86ProbeAndLoadChecks(no5, ok)).not.toThrow();
      expect((await refusal(() => x86ProbeAndLoadChecks(no5, { ...ok, fiveLevel: true }))).message).toBe("bzImage cannot handle 5-level paging mode.");
      // The Debian kernel sets XLF_5LEVEL (xloadflags 0x7f).
      expect(u16(kernel, 0x236) & (1 << 5)).not.toBe(0);
      expect(() => x86ProbeAndLoadChecks(head(() => {}), { ...ok, fiveLevel: true })).not.toThrow();
    });

    it("bzImage truncated: shorter than (setup_sects + 1) * 512", async () => {
      const sects = u8(kernel, 0x1f1);
      const cut = kernel.slice(0, (sects + 1) * 512 - 1);
      expect((await refusal(() => x86ProbeAndLoadChecks(cut, ok))).message).toBe("bzImage truncated");
      expect(() => x86ProbeAndLoadChecks(kernel.slice(0, (sects + 1) * 512), ok)).not.toThrow();
      // setup_sects 0 means 4
      expect(() => x86ProbeAndLoadChecks(head((b) => (b[0x1f1] = 0)).slice(0, 5 * 512), ok)).not.toThrow();
      expect((await refusal(() => x86ProbeAndLoadChecks(head((b) => (b[0x1f1] = 0)).slice(0, 5 * 512 - 1), ok))).message).toBe("bzImage truncated");
    });

    it("the command line: cmdline_len > cmdline_size, then cmdline_len + 30 > cmdline_size", async () => {
      const size = u32(kernel, 0x238);
      expect(size).toBe(2047);
      const h = head(() => {});
      expect((await refusal(() => x86ProbeAndLoadChecks(h, { cmdlineLen: size + 1 }))).message).toBe("Kernel command line too long");
      expect((await refusal(() => x86ProbeAndLoadChecks(h, { cmdlineLen: size }))).message).toBe(
        "Appending elfcorehdr=<addr> to command line exceeds maximum allowed length",
      );
      expect((await refusal(() => x86ProbeAndLoadChecks(h, { cmdlineLen: size - 29 }))).message).toBe(
        "Appending elfcorehdr=<addr> to command line exceeds maximum allowed length",
      );
      expect(() => x86ProbeAndLoadChecks(h, { cmdlineLen: size - 30 })).not.toThrow();
      // dm-crypt keys in a crash image: 31 more bytes.
      const crash = { elfcorehdr: 0x1000n, dmCryptKeys: 0x2000n };
      expect((await refusal(() => x86ProbeAndLoadChecks(h, { cmdlineLen: size - 30, crash }))).message).toBe(
        "Appending dmcryptkeys=<addr> to command line exceeds maximum allowed length",
      );
      expect(() => x86ProbeAndLoadChecks(h, { cmdlineLen: size - 61, crash })).not.toThrow();
      // A mutated cmdline_size at 0x238.
      const small = head((b) => put(b, 0x238, 4, 100));
      expect(() => x86ProbeAndLoadChecks(small, { cmdlineLen: 70 })).not.toThrow();
      expect((await refusal(() => x86ProbeAndLoadChecks(small, { cmdlineLen: 71 }))).message).toMatch(/^Appending elfcorehdr/);
      expect((await refusal(() => x86ProbeAndLoadChecks(small, { cmdlineLen: 101 }))).message).toBe("Kernel command line too long");
    });

    it("planX86_64 applies them: a string of cmdline_size - 31 characters is the longest (its NUL counts)", async () => {
      const size = u32(kernel, 0x238);
      const longest = "x".repeat(size - 31);
      await expect(plan({ cmdline: longest })).resolves.toBeDefined();
      const e = await refusal(plan({ cmdline: longest + "x" }));
      expect([e.code, e.message]).toEqual(["plan-refused", "Appending elfcorehdr=<addr> to command line exceeds maximum allowed length"]);
      const e2 = await refusal(plan({ kernel: mutated((b) => put(b, 0x206, 2, 0x20b)) }));
      expect([e2.code, e2.message]).toEqual(["plan-refused", "Must be at least protocol version 2.12"]);
      const e3 = await refusal(plan({ kernel: mutated((b) => put(b, 0x236, 2, u16(b, 0x236) & ~(1 << 5))), fiveLevel: true }));
      expect(e3.message).toBe("bzImage cannot handle 5-level paging mode.");
      expect((await refusal(plan({ cmdline: "a\0b" }))).code).toBe("bad-argument");
    });
  });

  describe("struct boot_params, decoded at bootparam.h's offsets", () => {
    let p: Plan;
    const cmdline = "console=ttyS0 root=/dev/vda kimage=1";
    const initrd = new Uint8Array(10000).fill(7);
    it("plans", async () => {
      p = await plan({ cmdline, initrd, seed: 42 });
      expect(p.segments.map((s) => s.name)).toEqual(["bootparams", "kernel", "initrd"]);
    });

    it("the setup header is copied from 0x1f1 for 0x0202 + kernel[0x201] - 0x1f1 bytes, then kexec's fields", () => {
      const bp = p.segments[0]!.bytes;
      const n = 0x202 + kernel[0x201]! - 0x1f1;
      expect(n).toBe(0x7b); // jump 0xeb 0x6a: the 2.15 header ends at 0x26c
      const written = new Set<number>();
      const mark = (off: number, len: number) => {
        for (let i = 0; i < len; i++) written.add(off + i);
      };
      mark(0x210, 1); // type_of_loader
      mark(0x211, 1); // loadflags
      mark(0x218, 8); // ramdisk_image, ramdisk_size
      mark(0x228, 4); // cmd_line_ptr
      mark(0x23c, 4); // hardware_subarch
      mark(0x250, 8); // setup_data
      for (let o = 0x1f1; o < 0x1f1 + n; o++) if (!written.has(o)) expect(bp[o], `0x${o.toString(16)}`).toBe(kernel[o]);
      // Nothing before 0x1f1 comes from the image: the sentinel (0xff in header.S) stays 0.
      expect(kernel[0x1ef]).toBe(0xff);
      expect(bp[0x1ef]).toBe(0);
      expect(u8(bp, 0x210)).toBe(0xd0); // params->hdr.type_of_loader = 0x0D << 4;
      expect(u8(bp, 0x211)).toBe(0); // params->hdr.loadflags = 0;
      expect(u32(bp, 0x23c)).toBe(0);
    });

    it("command line: at boot_params + 4096 (sizeof(struct boot_params)), NUL-terminated; cmd_line_ptr and ext_cmd_line_ptr", () => {
      const seg = p.segments[0]!;
      const bp = seg.bytes;
      const phys = seg.mem + 4096n;
      expect(BigInt(u32(bp, 0x228))).toBe(phys & 0xffffffffn);
      expect(BigInt(u32(bp, 0x0c8))).toBe(phys >> 32n);
      const text = new TextDecoder().decode(bp.subarray(4096, 4096 + cmdline.length));
      expect(text).toBe(cmdline);
      expect(bp[4096 + cmdline.length]).toBe(0);
      expect(p.cmdline).toBe(cmdline);
    });

    it("initrd: ramdisk_image/size low 32 bits, ext_ramdisk_image/size at 0x0c0/0x0c4", () => {
      const bp = p.segments[0]!.bytes;
      const rd = p.segments[2]!;
      expect(BigInt(u32(bp, 0x218))).toBe(rd.mem & 0xffffffffn);
      expect(u32(bp, 0x21c)).toBe(initrd.length);
      expect(u32(bp, 0x0c0)).toBe(0);
      expect(u32(bp, 0x0c4)).toBe(0);
    });

    it("e820: count at 0x1e8, 20-byte entries at 0x2d0; ext_mem_k / alt_mem_k", () => {
      const bp = p.segments[0]!.bytes;
      expect(u8(bp, 0x1e8)).toBe(1);
      expect([u64(bp, 0x2d0), u64(bp, 0x2d8), u32(bp, 0x2e0)]).toEqual([0n, 512n * MIB, 1]);
      // mem_k = (end >> 10) - (0x100000 >> 10) with end = 0x1fffffff: 523263; ext_mem_k capped at 0xfc00.
      expect(u32(bp, 0x1e0)).toBe((0x1fffffff >> 10) - 1024);
      expect(u16(bp, 0x002)).toBe(0xfc00);
    });

    it("SETUP_RNG_SEED: type 9, 32 bytes, after the command line and the EFI slot, linked from hdr.setup_data", () => {
      const seg = p.segments[0]!;
      const bp = seg.bytes;
      const cmdlineLen = cmdline.length + 1;
      const paramsCmdlineSz = Math.ceil((4096 + cmdlineLen + 30) / 16) * 16;
      const rngOff = paramsCmdlineSz + 16 + 96; // sizeof(struct setup_data) + sizeof(struct efi_setup_data)
      expect(bp.length).toBe(paramsCmdlineSz + 16 + 96 + 16 + 32);
      expect(u64(bp, 0x250)).toBe(seg.mem + BigInt(rngOff));
      expect(u64(bp, rngOff)).toBe(0n); // next: the image's hdr.setup_data (0)
      expect(u32(bp, rngOff + 8)).toBe(9);
      expect(u32(bp, rngOff + 12)).toBe(32);
      expect(bp.subarray(rngOff + 16, rngOff + 48).some((x) => x !== 0)).toBe(true);
      // The EFI slot stays zero: no EFI runtime.
      expect(bp.subarray(paramsCmdlineSz, rngOff).every((x) => x === 0)).toBe(true);
    });

    it("without a seed: no setup_data; the same seed gives the same bytes", async () => {
      const q = await plan({ cmdline, initrd });
      expect(u64(q.segments[0]!.bytes, 0x250)).toBe(0n);
      const again = await plan({ cmdline, initrd, seed: 42 });
      expect(again.segments.map((s) => [s.mem, s.memsz])).toEqual(p.segments.map((s) => [s.mem, s.memsz]));
      expect(again.segments[0]!.bytes).toEqual(p.segments[0]!.bytes);
    });

    it("no command line: cmdline_len 0, cmd_line_ptr still points at an empty string", async () => {
      const q = await plan({});
      const bp = q.segments[0]!.bytes;
      expect(BigInt(u32(bp, 0x228))).toBe(q.segments[0]!.mem + 4096n);
      expect(bp[4096]).toBe(0);
      expect(bp.length).toBe(Math.ceil((4096 + 30) / 16) * 16 + 16 + 96 + 16 + 32);
      expect(q.cmdline).toBe("");
    });
  });

  describe("placement as bzImage64_load: top-down, kernel at max(pref_address, 1 MiB) aligned to kernel_alignment, initrd >= 16 MiB", () => {
    const initSize = BigInt(u32(kernel, 0x260));
    const kAlign = BigInt(u32(kernel, 0x230));

    it("deterministic on 512 MiB of RAM, by hand (the untouched Debian file)", async () => {
      const initrd = new Uint8Array(5000);
      const p = await plan({ cmdline: "x", initrd, kernel: original });
      expect(p.notes[0]).toMatch(/^kernel: pe → bzimage/);
      const [bp, k, rd] = p.segments;
      // bootparams: bufsz 4096+2+30 -> 4128 (16-aligned) + 16+96+16+32 = 4288 -> 2 pages, top of RAM.
      expect([bp!.mem, bp!.memsz]).toEqual([512n * MIB - 0x2000n, 0x2000n]);
      // kernel: temp_start = ALIGN_DOWN(0x1fffffff - PAGE_ALIGN(init_size) + 1, kernel_alignment)
      const kmemsz = ((initSize + 4095n) / 4096n) * 4096n;
      const kstart = ((512n * MIB - kmemsz) / kAlign) * kAlign;
      expect([k!.mem, k!.memsz]).toEqual([kstart, kmemsz]);
      expect(k!.bytes.length).toBe(kernel.length - (u8(kernel, 0x1f1) + 1) * 512);
      expect(k!.bytes[0]).toBe(kernel[(u8(kernel, 0x1f1) + 1) * 512]);
      // initrd: 2 pages; the top candidate 0x1fffe000 hits the bootparams: the first clear one below it.
      expect([rd!.mem, rd!.memsz]).toEqual([512n * MIB - 0x4000n, 0x2000n]);
      expect(p.entry.pc).toBe(kstart + 0x200n);
      expect(p.entry.registers).toMatchObject({ rip: kstart + 0x200n, rsi: bp!.mem, rbx: 0n, rdi: 0n, rbp: 0n });
      expect(p.bootParams.entry32).toEqual({ eip: kstart, esi: bp!.mem, ebp: 0n, edi: 0n, ebx: 0n, cs: 0x10, ds: 0x18 } satisfies X86Entry32);
      expect(p.notes.join("\n")).toMatch(/no purgatory/);
    });

    it("the kernel never below pref_address (16 MiB here); with pref_address 0, never below MIN_KERNEL_LOAD_ADDR", async () => {
      expect(u64(kernel, 0x258)).toBe(16n * MIB);
      // RAM 0..64 MiB, and 50 MiB at 4 GiB (too small for the kernel; it keeps half of RAM above the kernel's size).
      const small = memoryMap([
        { start: 0n, size: 64n * MIB, type: "ram" },
        { start: 4n * GIB, size: 50n * MIB, type: "ram" },
      ]);
      // In 0..64 MiB the top-down kernel start ALIGN_DOWN(64M - memsz, 2M) = 8 MiB is below pref_address: no hole.
      expect((await refusal(plan({ memory: small }))).code).toBe("plan-no-hole");
      const p = await plan({ memory: small, kernel: mutated((b) => put(b, 0x258, 8, 0)) });
      const kmemsz = ((initSize + 4095n) / 4096n) * 4096n;
      expect(p.segments[1]!.mem).toBe(((64n * MIB - kmemsz) / kAlign) * kAlign);
      expect(p.segments[1]!.mem).toBeGreaterThanOrEqual(MIB);
    });

    it("kernel_alignment at 0x230 sets the alignment", async () => {
      const p = await plan({ kernel: mutated((b) => put(b, 0x230, 4, 0x4000000)) });
      expect(p.segments[1]!.mem % 0x4000000n).toBe(0n);
      const kmemsz = ((initSize + 4095n) / 4096n) * 4096n;
      expect(p.segments[1]!.mem).toBe(((512n * MIB - kmemsz) / 0x4000000n) * 0x4000000n);
    });

    it("the initrd never below MIN_INITRD_LOAD_ADDR (16 MiB), and above 4 GiB when RAM is there", async () => {
      // 16 MiB of RAM below MIN_INITRD_LOAD_ADDR, and above it only the kernel's 64 MiB range with 8 MiB to spare.
      const m = memoryMap([
        { start: 0n, size: 16n * MIB, type: "ram" },
        { start: 16n * MIB, size: 64n * MIB, type: "reserved" },
        { start: 80n * MIB, size: 64n * MIB, type: "ram" },
        { start: 4n * GIB, size: 64n * MIB, type: "ram" }, // excluded below: only keeps the half-of-RAM rule satisfied
      ]);
      const exclude = [{ start: 4n * GIB, size: 64n * MIB }];
      const fits = await plan({ memory: m, exclude, initrd: new Uint8Array(8 * 1024 * 1024) });
      expect(fits.segments[2]!.mem).toBe(80n * MIB);
      expect((await refusal(plan({ memory: m, exclude, initrd: new Uint8Array(9 * 1024 * 1024) }))).code).toBe("plan-no-hole");
      // Half of RAM: sanity_check_segment_list's rule, refused as such.
      const tiny = memoryMap([{ start: 0n, size: 100n * MIB, type: "ram" }]);
      expect((await refusal(plan({ memory: tiny }))).message).toMatch(/^sanity_check_segment_list refuses the load: no more than half of memory/);
      const hi = memoryMap([
        { start: 0n, size: 512n * MIB, type: "ram" },
        { start: 4n * GIB, size: 512n * MIB, type: "ram" },
      ]);
      const p = await plan({ memory: hi, initrd: new Uint8Array(100), cmdline: "hi" });
      for (const s of p.segments) expect(s.mem).toBeGreaterThanOrEqual(4n * GIB);
      const bp = p.segments[0]!.bytes;
      // Above 4 GiB: the ext_ fields carry the high 32 bits, and there is no 32-bit entry.
      expect(u32(bp, 0x0c8)).toBe(1);
      expect(u32(bp, 0x0c0)).toBe(1);
      expect(BigInt(u32(bp, 0x218))).toBe(p.segments[2]!.mem & 0xffffffffn);
      expect(p.bootParams.entry32).toBeNull();
    });

    it("seeded: deterministic per seed, spread across seeds, every rule holds", async () => {
      const mems = new Set<string>();
      for (const seed of [1, 2, 3, 4]) {
        const p = await plan({ seed, initrd: new Uint8Array(3000), exclude: [{ start: 0n, size: 0x10000n }] });
        const [bp, k, rd] = p.segments;
        expect(bp!.mem).toBeGreaterThanOrEqual(0x10000n);
        expect(k!.mem % kAlign).toBe(0n);
        expect(k!.mem).toBeGreaterThanOrEqual(16n * MIB);
        expect(rd!.mem).toBeGreaterThanOrEqual(16n * MIB);
        mems.add(p.segments.map((s) => s.mem).join(","));
      }
      expect(mems.size).toBe(4);
    });

    it("a crash plan composes: segments in the crash region, elfcorehdr= before the command line", async () => {
      const region = { start: 256n * MIB, size: 128n * MIB };
      const p = await plan({ cmdline: "console=ttyS0", crash: { region, elfcorehdr: 0x10001000n } });
      expect(p.kind).toBe("crash");
      for (const s of p.segments) {
        expect(s.mem).toBeGreaterThanOrEqual(region.start);
        expect(s.mem + s.memsz).toBeLessThanOrEqual(region.start + region.size);
      }
      expect(p.cmdline).toBe("elfcorehdr=0x10001000 console=ttyS0");
      const bp = p.segments[0]!.bytes;
      expect(new TextDecoder().decode(bp.subarray(4096, 4096 + p.cmdline.length + 1))).toBe(p.cmdline + "\0");
    });
  });

  describe("bootparams builder", () => {
    it("e820: more than 128 entries -> the first 128 are passed (E820_MAX_ENTRIES_ZEROPAGE), the rest dropped", async () => {
      const entries = Array.from({ length: 130 }, (_, i) => ({ start: BigInt(i) * 2n * MIB, size: MIB, type: i % 2 ? ("reserved" as const) : ("ram" as const) }));
      const m = memoryMap([...entries, { start: 1n * GIB, size: 512n * MIB, type: "ram" }]);
      const table = e820FromMemoryMap(m);
      expect(table.length).toBe(131);
      const p = await plan({ memory: m });
      const bp = p.segments[0]!.bytes;
      expect(u8(bp, 0x1e8)).toBe(128);
      for (let i = 0; i < 128; i++) {
        const at = 0x2d0 + 20 * i;
        expect([u64(bp, at), u64(bp, at + 8), u32(bp, at + 16)]).toEqual([table[i]!.addr, table[i]!.size, table[i]!.type]);
      }
      // The 129th entry would start at 0xcd0: _pad8, left zero.
      expect(bp.subarray(0xcd0, 0xd00).every((x) => x === 0)).toBe(true);
      expect(p.bootParams.e820Dropped).toBe(3);
      expect(p.notes.join("\n")).toMatch(/drops 3/);
    });

    it("e820 types and merging: crash is RAM to the next kernel; adjacent same types merge, gaps stay", () => {
      const m = memoryMap([
        { start: 0n, size: 0x9fc00n, type: "ram" },
        { start: 0x9fc00n, size: 0x400n, type: "reserved" },
        { start: MIB, size: 100n * MIB, type: "ram" },
        { start: 101n * MIB, size: 27n * MIB, type: "crash" },
        { start: 200n * MIB, size: MIB, type: "acpi" },
        { start: 201n * MIB, size: MIB, type: "nvs" },
      ]);
      expect(e820FromMemoryMap(m)).toEqual<BootE820Entry[]>([
        { addr: 0n, size: 0x9fc00n, type: 1 },
        { addr: 0x9fc00n, size: 0x400n, type: 2 },
        { addr: MIB, size: 127n * MIB, type: 1 },
        { addr: 200n * MIB, size: MIB, type: 3 },
        { addr: 201n * MIB, size: MIB, type: 4 },
      ]);
    });

    it("a jump byte of 0xff copies 0x110 header bytes, past hdr into _pad7 and e820_table, as the kernel does", () => {
      const k = kernel.slice(0, 0x1000);
      k[0x201] = 0xff;
      for (let o = 0x26c; o < 0x301; o++) k[o] = 0xaa;
      expect(setupHeaderSize(k)).toBe(0x110);
      const cmd = kexecCmdlineBytes("a");
      const out = buildBootParams({ kernel: k, loadAddr: 0x100000n, cmdline: cmd, layout: bootParamsLayout(cmd.length), e820: [{ addr: 0n, size: MIB, type: 1 }] });
      const bp = out.bytes;
      expect(bp.subarray(0x26c, 0x2d0).every((x) => x === 0xaa)).toBe(true);
      // e820_table[0] (0x2d0..0x2e4) is overwritten by setup_e820_entries; the copied bytes after it remain.
      expect(u64(bp, 0x2d0)).toBe(0n);
      expect(u64(bp, 0x2d8)).toBe(MIB);
      expect(bp.subarray(0x2e4, 0x301).every((x) => x === 0xaa)).toBe(true);
      expect(bp[0x301]).toBe(0);
    });

    it("layout by kernel config: the RNG seed follows the EFI, IMA and KHO slots; KHO's type/len are written unlinked", () => {
      const base = Math.ceil((4096 + 10 + 30) / 16) * 16;
      expect(bootParamsLayout(10)).toMatchObject({ paramsCmdlineSize: base, efiSetupDataOffset: base, rngSeedOffset: base + 112, bufsz: base + 112 + 48 });
      // Without CONFIG_EFI the slot is still in bufsz, but setup_data_offset is not advanced past it.
      expect(bootParamsLayout(10, { config: { efi: false } })).toMatchObject({ rngSeedOffset: base, bufsz: base + 112 + 48 });
      const l = bootParamsLayout(10, { config: { ima: true, kho: true, efiMapSize: 40 } });
      expect(l).toMatchObject({ efiSetupDataOffset: base + 48, imaSetupDataOffset: base + 48 + 112, khoSetupDataOffset: base + 48 + 112 + 32, rngSeedOffset: base + 48 + 112 + 32 + 48 });
      expect(l.bufsz).toBe(base + 48 + 112 + 48 + 32 + 48);
      const cmd = kexecCmdlineBytes("123456789");
      const out = buildBootParams({ kernel, loadAddr: 0x5000n, cmdline: cmd, layout: l, e820: [], rngSeed: new Uint8Array(32).fill(1) });
      expect([u32(out.bytes, l.khoSetupDataOffset! + 8), u32(out.bytes, l.khoSetupDataOffset! + 12)]).toEqual([10, 32]);
      expect(u64(out.bytes, 0x250)).toBe(0x5000n + BigInt(l.rngSeedOffset));
      expect(u64(out.bytes, l.rngSeedOffset)).toBe(0n); // the KHO slot is not in the chain
    });

    it("a crash prefix with dm-crypt keys fills its reserved room exactly", () => {
      const cmd = kexecCmdlineBytes("root=/dev/sda");
      const layout = bootParamsLayout(cmd.length, { dmCryptKeys: true });
      expect(layout.paramsCmdlineSize).toBe(Math.ceil((4096 + cmd.length + 30 + 31) / 16) * 16);
      const out = buildBootParams({
        kernel,
        loadAddr: 0x1234000n,
        cmdline: cmd,
        layout,
        e820: [],
        crash: { elfcorehdr: 0xffffffffffffffffn, dmCryptKeys: 0xfffffffffffff000n },
      });
      expect(out.cmdline).toBe("elfcorehdr=0xffffffffffffffff dmcryptkeys=0xfffffffffffff000 root=/dev/sda");
      expect(out.cmdline.length + 1).toBe(30 + 31 + cmd.length);
    });
  });
});
