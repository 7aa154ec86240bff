// Bad DTBs fail with typed errors at the right offsets; mutated blobs either
// fail with a KimageError or round-trip exactly; random trees survive
// serialize -> parse unchanged.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { haveTool, run } from "../support/real.js";
import { isKimageError } from "../../src/core/errors.js";
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_PROP,
  createFdt,
  ensureNode,
  parseFdt,
  serializeFdt,
  setString,
  setU32,
  type Fdt,
  type FdtNode,
} from "../../src/fdt/index.js";

/** A small valid blob built by hand: header, empty memrsv, struct, strings. */
function blob(struct: number[], strings = "compatible\0", opts: { version?: number; lastComp?: number } = {}): Uint8Array {
  const structBytes = struct.length * 4;
  const strBytes = new TextEncoder().encode(strings);
  const offMem = 0x28;
  const offStruct = offMem + 16;
  const offStrings = offStruct + structBytes;
  const total = offStrings + strBytes.length;
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  [0xd00dfeed, total, offStruct, offStrings, offMem, opts.version ?? 17, opts.lastComp ?? 16, 0, strBytes.length, structBytes].forEach((v, i) =>
    dv.setUint32(i * 4, v),
  );
  struct.forEach((w, i) => dv.setUint32(offStruct + i * 4, w >>> 0));
  b.set(strBytes, offStrings);
  return b;
}

const ROOT = [FDT_BEGIN_NODE, 0];
const STRUCT_AT = 0x38;

function code(f: () => unknown): { code: string; offset: number } {
  try {
    f();
  } catch (e) {
    if (isKimageError(e)) return { code: e.code, offset: e.offset };
    throw e;
  }
  throw new Error("no error");
}

describe("typed errors on bad blobs", () => {
  it("the hand-built blob is valid", () => {
    const b = blob([...ROOT, FDT_PROP, 4, 0, 0x61620000, FDT_END_NODE, FDT_END]);
    const fdt = parseFdt(b);
    expect(fdt.root.props[0]?.name).toBe("compatible");
    expect(serializeFdt(fdt)).toEqual(b);
  });

  it("header problems", () => {
    const good = blob([...ROOT, FDT_END_NODE, FDT_END]);
    expect(code(() => parseFdt(new Uint8Array(2)))).toEqual({ code: "truncated", offset: 0 });
    const badMagic = good.slice();
    badMagic[0] = 0;
    expect(code(() => parseFdt(badMagic))).toEqual({ code: "fdt-bad-magic", offset: 0 });
    expect(code(() => parseFdt(good.subarray(0, 20)))).toMatchObject({ code: "truncated" });
    expect(code(() => parseFdt(blob([...ROOT, FDT_END_NODE, FDT_END], "", { version: 16 })))).toEqual({ code: "fdt-bad-version", offset: 20 });
    expect(code(() => parseFdt(blob([...ROOT, FDT_END_NODE, FDT_END], "", { lastComp: 18 })))).toEqual({ code: "fdt-bad-version", offset: 20 });
    expect(code(() => parseFdt(good.subarray(0, good.length - 1)))).toEqual({ code: "fdt-bad-header", offset: 4 });
    const structOut = good.slice();
    new DataView(structOut.buffer).setUint32(8, 0xffff0000);
    expect(code(() => parseFdt(structOut))).toEqual({ code: "fdt-bad-header", offset: 8 });
    const overlap = good.slice();
    new DataView(overlap.buffer).setUint32(12, STRUCT_AT); // strings block on top of the struct block
    new DataView(overlap.buffer).setUint32(32, 8);
    expect(code(() => parseFdt(overlap))).toMatchObject({ code: "fdt-bad-header" });
    expect(code(() => parseFdt(good, { maxTotalSize: 16 }))).toEqual({ code: "limit", offset: 4 });
  });

  it("memory reservation block without terminator", () => {
    const b = blob([...ROOT, FDT_END_NODE, FDT_END], "compatible\0abcdefghijklmnopq\0");
    const dv = new DataView(b.buffer);
    // Point the memrsv block at the strings block: its first entry is not
    // (0, 0) and the second would run past totalsize.
    dv.setUint32(16, dv.getUint32(12));
    expect(code(() => parseFdt(b))).toEqual({ code: "fdt-bad-memrsv", offset: dv.getUint32(12) + 16 });
  });

  it("structure block problems, with the token's absolute offset", () => {
    expect(code(() => parseFdt(blob([...ROOT, 0x7, FDT_END_NODE, FDT_END])))).toEqual({ code: "fdt-bad-token", offset: STRUCT_AT + 8 });
    expect(code(() => parseFdt(blob([FDT_PROP, 0, 0, FDT_END])))).toEqual({ code: "fdt-bad-token", offset: STRUCT_AT });
    expect(code(() => parseFdt(blob([...ROOT, FDT_END])))).toEqual({ code: "fdt-bad-structure", offset: STRUCT_AT + 8 });
    expect(code(() => parseFdt(blob([...ROOT, FDT_END_NODE, FDT_END_NODE, FDT_END])))).toEqual({ code: "fdt-bad-structure", offset: STRUCT_AT + 12 });
    expect(code(() => parseFdt(blob([...ROOT, FDT_END_NODE])))).toMatchObject({ code: "fdt-bad-structure" });
    expect(code(() => parseFdt(blob([...ROOT, FDT_END_NODE, FDT_END, 0])))).toEqual({ code: "fdt-bad-structure", offset: STRUCT_AT + 16 });
    expect(code(() => parseFdt(blob([...ROOT, FDT_END_NODE, ...ROOT, FDT_END_NODE, FDT_END])))).toMatchObject({ code: "fdt-bad-structure" });
    // A property after a subnode (5.4.2).
    const child = [FDT_BEGIN_NODE, 0x61000000, FDT_END_NODE];
    expect(code(() => parseFdt(blob([...ROOT, ...child, FDT_PROP, 0, 0, FDT_END_NODE, FDT_END])))).toEqual({ code: "fdt-bad-structure", offset: STRUCT_AT + 20 });
    // The root must be named "".
    expect(code(() => parseFdt(blob([FDT_BEGIN_NODE, 0x61000000, FDT_END_NODE, FDT_END])))).toMatchObject({ code: "fdt-bad-structure" });
    // A node name running off the block.
    expect(code(() => parseFdt(blob([FDT_BEGIN_NODE, 0x61616161])))).toMatchObject({ code: "fdt-bad-string" });
  });

  it("string and property problems", () => {
    expect(code(() => parseFdt(blob([...ROOT, FDT_PROP, 0, 999, FDT_END_NODE, FDT_END])))).toEqual({ code: "fdt-bad-string", offset: STRUCT_AT + 16 });
    expect(code(() => parseFdt(blob([...ROOT, FDT_PROP, 0, 0, FDT_END_NODE, FDT_END], "abc")))).toMatchObject({ code: "fdt-bad-string" });
    expect(code(() => parseFdt(blob([...ROOT, FDT_PROP, 0, 1, FDT_END_NODE, FDT_END], "a\0\0")))).toMatchObject({ code: "fdt-bad-string" });
    expect(code(() => parseFdt(blob([...ROOT, FDT_PROP, 100, 0, FDT_END_NODE, FDT_END])))).toMatchObject({ code: "truncated" });
    expect(code(() => parseFdt(blob([...ROOT, FDT_PROP, 8, 0, 1, 2, FDT_END_NODE, FDT_END]), { maxPropertySize: 4 }))).toMatchObject({ code: "limit" });
  });

  it("limits on depth, node count and name length", () => {
    const deep: number[] = [...ROOT];
    for (let i = 0; i < 70; i++) deep.push(FDT_BEGIN_NODE, 0x61000000);
    for (let i = 0; i < 71; i++) deep.push(FDT_END_NODE);
    deep.push(FDT_END);
    expect(code(() => parseFdt(blob(deep)))).toMatchObject({ code: "limit" });
    expect(() => parseFdt(blob(deep), { maxDepth: 100 })).not.toThrow();
    const wide: number[] = [...ROOT];
    for (let i = 0; i < 20; i++) wide.push(FDT_BEGIN_NODE, 0x61000000, FDT_END_NODE);
    wide.push(FDT_END_NODE, FDT_END);
    expect(code(() => parseFdt(blob(wide), { maxNodes: 10 }))).toMatchObject({ code: "limit" });
    expect(code(() => parseFdt(blob([...ROOT, FDT_PROP, 0, 0, FDT_END_NODE, FDT_END], "compatible\0"), { maxNameLength: 4 }))).toMatchObject({ code: "limit" });
  });
});

function sampleBlob(): Uint8Array {
  const fdt = createFdt();
  setU32(fdt.root, "#address-cells", 2);
  setU32(fdt.root, "#size-cells", 1);
  setString(fdt.root, "compatible", "linux,dummy-virt");
  const c = ensureNode(fdt, "/chosen");
  setString(c, "bootargs", "console=ttyAMA0");
  c.props[0]!.nopsBefore = 1;
  ensureNode(fdt, "/memory@40000000").props.push({ name: "reg", value: Uint8Array.of(0, 0, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0) });
  ensureNode(fdt, "/soc/uart@9000000");
  fdt.reservations.push({ address: 0x1000n, size: 0x2000n });
  return serializeFdt(fdt, { extraSpace: 16 });
}

describe("mutation (fast-check)", () => {
  const base = sampleBlob();
  it("a mutated blob either throws a KimageError or round-trips byte-exactly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(base.length),
        (flips, cut) => {
          const m = base.slice(0, Math.max(cut, base.length - 32));
          for (const [i, v] of flips) if (i < m.length) m[i] = v;
          let fdt: Fdt;
          try {
            fdt = parseFdt(m);
          } catch (e) {
            if (!isKimageError(e)) throw e;
            expect(e.layer === "fdt" || e.code === "truncated").toBe(true);
            return;
          }
          expect(serializeFdt(fdt)).toEqual(m);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

const nameArb = fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,14}$/);
const propArb = fc.record({ name: nameArb, value: fc.uint8Array({ maxLength: 24 }), nops: fc.nat(2) });
function nodeArb(depth: number): fc.Arbitrary<FdtNode> {
  return fc.record({
    name: fc.tuple(nameArb, fc.option(fc.nat(0xffff))).map(([n, a]) => (a === null ? n : `${n}@${a.toString(16)}`)),
    props: fc.uniqueArray(propArb, { selector: (p) => p.name, maxLength: 4 }).map((ps) =>
      ps.map((p) => (p.nops ? { name: p.name, value: p.value, nopsBefore: p.nops } : { name: p.name, value: p.value })),
    ),
    children: depth === 0 ? fc.constant([]) : fc.array(nodeArb(depth - 1), { maxLength: 3 }),
  });
}

describe("random trees (fast-check)", () => {
  it("serialize -> parse gives back the same tree, reservations and header fields", () => {
    fc.assert(
      fc.property(
        nodeArb(3),
        fc.array(fc.record({ address: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), size: fc.bigInt({ min: 1n, max: 1n << 40n }) }), { maxLength: 3 }),
        fc.nat(0xffffffff),
        (root, reservations, cpu) => {
          const fdt: Fdt = { ...createFdt(), root: { ...root, name: "" }, reservations, bootCpuidPhys: cpu };
          const b = serializeFdt(fdt);
          const back = parseFdt(b);
          const strip = (n: FdtNode): unknown => ({
            name: n.name,
            props: n.props.map((p) => ({ name: p.name, value: [...p.value], nops: p.nopsBefore ?? 0 })),
            children: n.children.map(strip),
          });
          expect(strip(back.root)).toEqual(strip(fdt.root));
          expect(back.reservations).toEqual(reservations);
          expect(back.bootCpuidPhys).toBe(cpu);
          expect(serializeFdt(back)).toEqual(b);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("dtc accepts random trees", () => {
  it.runIf(haveTool("dtc"))("`dtc -I dtb -O dts` reads 25 generated blobs and prints every node", () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-fdt-rand-"));
    fc.sample(nodeArb(3), { numRuns: 25, seed: 4242 }).forEach((root, i) => {
      const fdt: Fdt = { ...createFdt(), root: { ...root, name: "" } };
      const p = join(dir, `r${i}.dtb`);
      writeFileSync(p, serializeFdt(fdt));
      const dts = run("dtc", ["-q", "-I", "dtb", "-O", "dts", p]);
      const count = (n: FdtNode): number => 1 + n.children.reduce((a, c) => a + count(c), 0);
      expect((dts.match(/\{\n/g) ?? []).length).toBe(count(fdt.root));
    });
  });
});
