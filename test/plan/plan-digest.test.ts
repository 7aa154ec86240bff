// The purgatory digest (kexec_calculate_store_digests / verify_sha256_digest):
// computed over every segment's bytes plus zero fill up to memsz, in the
// kernel's order; verified from a fake guest memory, which catches a one-byte
// corruption in every segment kind and in the zero fill.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pureJsHashProvider, webCryptoHashProvider } from "../../src/hash/index.js";
import { planArm64 } from "../../src/plan/arch/arm64.js";
import { planDigest, verifyPlanDigest } from "../../src/plan/core/digest.js";
import { CRASH_NOTE_BYTES, vmcoreinfoNoteSize } from "../../src/plan/protocol/elfcore.js";
import { memoryMap, type Segment } from "../../src/plan/core/memory.js";
import type { Plan } from "../../src/plan/table.js";
import { fakeArm64Image, firstKernelDtb } from "../support/plan-builders.js";

const M = 1n << 20n;
const PAGE = 4096n;

const arm64Image = (): Uint8Array => fakeArm64Image(8n * M); // image_size 8 MiB: 7 MiB of zero fill (bss)

const dtb = (): Uint8Array => firstKernelDtb({ ram: { start: 0x40000000n, size: 0x40000000n } });

/** A crash plan: kernel (with zero fill), elfcorehdr (exactly one page), initrd and dtb (with zero fill). */
async function plan(): Promise<Plan> {
  return planArm64({
    kernel: arm64Image(),
    initrd: new Uint8Array(300_001).map((_, i) => (i * 7) & 0xff),
    cmdline: "console=ttyAMA0",
    dtb: dtb(),
    memory: memoryMap([
      { start: 0x40000000n, size: 0x40000000n, type: "ram" },
      { start: 0x60000000n, size: 0x4000000n, type: "crash" },
    ]),
    crash: { cpuNotes: [{ addr: 0x48000000n, size: CRASH_NOTE_BYTES.arm64 }], vmcoreinfo: { addr: 0x48001000n, size: vmcoreinfoNoteSize() } },
  });
}

/** Guest memory as a Map of 4 KiB pages; never-written memory reads as 0xee (not zero). */
class FakeMemory {
  readonly pages = new Map<bigint, Uint8Array>();
  reads = 0;
  write(addr: bigint, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; ) {
      const a = addr + BigInt(i);
      const page = this.page(a / PAGE);
      const off = Number(a % PAGE);
      const n = Math.min(bytes.length - i, Number(PAGE) - off);
      page.set(bytes.subarray(i, i + n), off);
      i += n;
    }
  }
  private page(n: bigint): Uint8Array {
    let p = this.pages.get(n);
    if (!p) {
      p = new Uint8Array(Number(PAGE)).fill(0xee);
      this.pages.set(n, p);
    }
    return p;
  }
  read = (addr: bigint, len: number): Uint8Array => {
    this.reads++;
    const out = new Uint8Array(len).fill(0xee);
    for (let i = 0; i < len; ) {
      const a = addr + BigInt(i);
      const off = Number(a % PAGE);
      const n = Math.min(len - i, Number(PAGE) - off);
      const p = this.pages.get(a / PAGE);
      if (p) out.set(p.subarray(off, off + n), i);
      i += n;
    }
    return out;
  };
  /** What a loader does: copy each segment, then zero the rest of memsz. */
  static load(segments: readonly Segment[]): FakeMemory {
    const m = new FakeMemory();
    for (const s of segments) {
      m.write(s.mem, s.bytes);
      m.write(s.mem + BigInt(s.bytes.length), new Uint8Array(Number(s.memsz) - s.bytes.length));
    }
    return m;
  }
  flip(addr: bigint): void {
    const p = this.pages.get(addr / PAGE);
    if (!p) throw new Error("unmapped");
    const o = Number(addr % PAGE);
    p[o] = (p[o] ?? 0) ^ 0x01;
  }
}

/** An independent computation: node:crypto over bytes then Buffer.alloc zeros, in segment order. */
function nodeDigest(segments: readonly Segment[]): string {
  const h = createHash("sha256");
  for (const s of segments) {
    h.update(s.bytes);
    h.update(Buffer.alloc(Number(s.memsz) - s.bytes.length));
  }
  return h.digest("hex");
}

describe("planDigest", () => {
  it("equals node:crypto over every segment's bytes plus zero fill, in the kernel's order", async () => {
    const p = await plan();
    expect(p.segments.map((s) => s.name)).toEqual(["kernel", "elfcorehdr", "initrd", "dtb"]);
    const d = await planDigest(p);
    expect(d.alg).toBe("sha256");
    expect(d.hex).toBe(nodeDigest(p.segments));
    expect(d.regions).toEqual(p.segments.map((s) => ({ name: s.name, start: s.mem, len: s.memsz })));
    // the kernel has real zero fill: image_size 8 MiB, 1 MiB of bytes
    expect(p.segments[0]!.memsz - BigInt(p.segments[0]!.bytes.length)).toBe(7n * M);
  });

  it("is the same with every hash provider", async () => {
    const p = await plan();
    const a = await planDigest(p, { hash: pureJsHashProvider });
    const b = await planDigest(p, { hash: webCryptoHashProvider(globalThis.crypto.subtle as never) });
    expect(a.hex).toBe(b.hex);
    expect(a.hex).toBe(nodeDigest(p.segments));
  });

  it("skips a purgatory segment by default, and what `skip` names (x86 CONFIG_CRASH_HOTPLUG: the elfcorehdr)", async () => {
    const p = await plan();
    const purg: Segment = { name: "purgatory", bytes: new Uint8Array(100).fill(1), mem: 0x61f00000n, memsz: PAGE };
    const withPurg: Plan = { ...p, segments: [...p.segments, purg] };
    const d = await planDigest(withPurg);
    expect(d.hex).toBe(nodeDigest(p.segments));
    expect(d.regions.map((r) => r.name)).toEqual(["kernel", "elfcorehdr", "initrd", "dtb"]);
    const noElf = await planDigest(p, { skip: (n) => n === "elfcorehdr" || n === "purgatory" });
    expect(noElf.hex).toBe(nodeDigest(p.segments.filter((s) => s.name !== "elfcorehdr")));
    expect(noElf.regions.map((r) => r.name)).toEqual(["kernel", "initrd", "dtb"]);
  });
});

describe("verifyPlanDigest", () => {
  it("passes on an untouched copy", async () => {
    const p = await plan();
    const mem = FakeMemory.load(p.segments);
    const v = await verifyPlanDigest(p, mem.read);
    expect(v.ok).toBe(true);
    expect(v.mismatch).toBeUndefined();
    expect(Buffer.from(v.digest).toString("hex")).toBe(nodeDigest(p.segments));
    expect(v.expected).toEqual(v.digest);
  });

  it("fails when the loader forgot the zero fill (memory past the bytes is not zero)", async () => {
    const p = await plan();
    const mem = new FakeMemory();
    for (const s of p.segments) mem.write(s.mem, s.bytes);
    const v = await verifyPlanDigest(p, mem.read);
    expect(v.ok).toBe(false);
    expect(v.mismatch).toEqual({ segment: "kernel", offset: BigInt(p.segments[0]!.bytes.length) });
  });

  it("catches a one-byte corruption in every segment's bytes and in every zero fill", async () => {
    const p = await plan();
    const cases: Array<{ segment: string; offset: bigint }> = [];
    for (const s of p.segments) {
      const n = BigInt(s.bytes.length);
      cases.push({ segment: s.name, offset: 0n }, { segment: s.name, offset: n / 2n }, { segment: s.name, offset: n - 1n });
      if (s.memsz > n) cases.push({ segment: s.name, offset: n }, { segment: s.name, offset: s.memsz - 1n });
    }
    // every kind has bytes; kernel, initrd and dtb have zero fill; the header is exactly one page
    expect(new Set(cases.filter((c) => c.offset >= BigInt(p.segments.find((s) => s.name === c.segment)!.bytes.length)).map((c) => c.segment))).toEqual(new Set(["kernel", "initrd", "dtb"]));
    for (const c of cases) {
      const s = p.segments.find((x) => x.name === c.segment)!;
      const mem = FakeMemory.load(p.segments);
      mem.flip(s.mem + c.offset);
      const v = await verifyPlanDigest(p, mem.read);
      expect(v.ok, `${c.segment}+${c.offset}`).toBe(false);
      expect(v.mismatch, `${c.segment}+${c.offset}`).toEqual(c);
      expect(v.digest).not.toEqual(v.expected);
    }
  });

  it("ignores corruption in a skipped segment, as purgatory would", async () => {
    const p = await plan();
    const elf = p.segments[1]!;
    const mem = FakeMemory.load(p.segments);
    mem.flip(elf.mem + 100n);
    expect((await verifyPlanDigest(p, mem.read)).ok).toBe(false);
    expect((await verifyPlanDigest(p, mem.read, { skip: (n) => n === "elfcorehdr" })).ok).toBe(true);
  });

  it("accepts an async reader and refuses a short read", async () => {
    const p = await plan();
    const mem = FakeMemory.load(p.segments);
    expect((await verifyPlanDigest(p, (a, n) => Promise.resolve(mem.read(a, n)))).ok).toBe(true);
    await expect(verifyPlanDigest(p, (a, n) => mem.read(a, n - 1))).rejects.toMatchObject({ code: "digest-short-read" });
  });
});
