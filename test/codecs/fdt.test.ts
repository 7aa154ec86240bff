// The FDT codec on real blobs: byte-exact round trips (QEMU's dumped virt
// DTBs for arm64 and riscv64, Debian's compiled DTBs), edits of /chosen and
// /memreserve/ that dtc accepts and prints with the right values, and dtc's
// own layout reproduced byte for byte.
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import {
  createFdt,
  deleteNode,
  deleteProp,
  ensureNode,
  findNode,
  getReg,
  getString,
  getStringList,
  getU32,
  getU64,
  parseFdt,
  requireNode,
  serializeFdt,
  setProp,
  setReg,
  setString,
  setStringList,
  setU32,
  setU64,
  walkNodes,
  type Fdt,
} from "../../src/fdt/index.js";
import { createRng, kaslrSeed, rngSeed } from "../../src/plan/core/random.js";
import { haveTool, readBytes, requireReal, run } from "../support/real.js";

const dir = mkdtempSync(join(tmpdir(), "kimage-fdt-"));
const haveDtc = haveTool("dtc");
const haveQemuArm = haveTool("qemu-system-aarch64");
const haveQemuRv = haveTool("qemu-system-riscv64");

/** Dumps QEMU's generated DTB for a machine (a few hundred ms, no guest runs). */
function dumpDtb(bin: string, machine: string[], name: string): Uint8Array {
  const path = join(dir, name);
  const r = spawnSync(bin, [...machine.slice(0, -1), `${machine[machine.length - 1]},dumpdtb=${path}`, "-nographic"], { encoding: "utf8", timeout: 30_000 });
  if (!existsSync(path)) throw new Error(`${bin} did not dump a DTB: ${r.stderr}`);
  return readBytes(path);
}

function dtcCompile(dts: string, name: string, extra: string[] = []): Uint8Array {
  const src = join(dir, `${name}.dts`);
  const out = join(dir, `${name}.dtb`);
  writeFileSync(src, dts);
  run("dtc", ["-q", "-I", "dts", "-O", "dtb", ...extra, "-o", out, src]);
  return readBytes(out);
}

/** `dtc -I dtb -O dts` of bytes; throws (with dtc's stderr) when dtc refuses them. */
function dtcDecompile(bytes: Uint8Array, name: string): string {
  const p = join(dir, `${name}.dtb`);
  writeFileSync(p, bytes);
  return run("dtc", ["-I", "dtb", "-O", "dts", p]);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The body of `node-name { ... };` at the top of a dts (single level, e.g. chosen). */
function dtsNodeBody(dts: string, name: string): string {
  const m = new RegExp(`\\n\\t${name.replace(/[@,]/g, "\\$&")} \\{\\n([\\s\\S]*?)\\n\\t\\};`).exec(dts);
  if (!m) throw new Error(`no ${name} in dtc output`);
  return m[1] ?? "";
}

/** `name = value;` lines of a dts node body, as raw value text. */
function dtsProps(body: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of body.matchAll(/^\t\t([^\s=;{]+)(?: = (.*))?;$/gm)) out.set(m[1] ?? "", m[2] ?? "");
  return out;
}

/** dtc's `<0x.. 0x..>` cells as one number. */
function cellsNumber(v: string): bigint {
  const m = /^<(.*)>$/.exec(v);
  if (!m) throw new Error(`not cells: ${v}`);
  return (m[1] ?? "").trim().split(/\s+/).reduce((n, c) => (n << 32n) | BigInt(c), 0n);
}

/** The bytes of dtc's `[aa bb ...]` bytestring or `<0x.. 0x..>` cells (dtc prints 4-multiples as cells). */
function valueBytes(v: string): Uint8Array {
  const b = /^\[(.*)\]$/.exec(v);
  if (b) return Uint8Array.from((b[1] ?? "").trim().split(/\s+/).map((h) => parseInt(h, 16)));
  const c = /^<(.*)>$/.exec(v);
  if (!c) throw new Error(`not bytes or cells: ${v}`);
  const cells = (c[1] ?? "").trim().split(/\s+/).map((x) => Number(x));
  const out = new Uint8Array(cells.length * 4);
  cells.forEach((x, i) => new DataView(out.buffer).setUint32(i * 4, x));
  return out;
}

const realBlobs: { name: string; bytes: () => Uint8Array }[] = [];
let armVirt: Uint8Array | undefined;
let rvVirt: Uint8Array | undefined;

beforeAll(() => {
  if (haveQemuArm) armVirt = dumpDtb("qemu-system-aarch64", ["-M", "virt", "-cpu", "max", "-m", "1024", "-machine", "virt"], "arm64-virt.dtb");
  if (haveQemuRv) rvVirt = dumpDtb("qemu-system-riscv64", ["-M", "virt", "-machine", "virt"], "riscv64-virt.dtb");
});

// Debian-built DTBs: fixtures of kind "dtb" when fetched, and those Debian's
// qemu-system-data package ships (compiled by dtc at package build time).
for (const f of requireReal("Debian DTBs", (f) => (f.kind as string) === "dtb")) realBlobs.push({ name: f.path, bytes: () => readBytes(f.abs) });
if (existsSync("/usr/share/qemu")) {
  for (const n of readdirSync("/usr/share/qemu").filter((n) => n.endsWith(".dtb"))) {
    realBlobs.push({ name: `/usr/share/qemu/${n}`, bytes: () => readBytes(`/usr/share/qemu/${n}`) });
  }
}

describe("round trip is byte-exact", () => {
  it.runIf(haveQemuArm)("QEMU arm64 virt (libfdt sequential-write layout, 1 MiB totalsize, stale padding bytes)", () => {
    const b = armVirt!;
    const fdt = parseFdt(b);
    expect(fdt.layout?.totalSize).toBe(b.length);
    expect(equalBytes(serializeFdt(fdt), b)).toBe(true);
    // QEMU's libfdt edits leave non-zero bytes in the 4-byte padding.
    let stale = 0;
    for (const { node } of walkNodes(fdt)) stale += node.props.filter((p) => p.pad).length + (node.namePad ? 1 : 0);
    expect(stale).toBeGreaterThan(0);
  });

  it.runIf(haveQemuRv)("QEMU riscv64 virt (packed blob inside a 1 MiB dump: bytes after totalsize kept)", () => {
    const b = rvVirt!;
    const fdt = parseFdt(b);
    expect(fdt.layout!.totalSize).toBeLessThan(b.length);
    expect(fdt.layout!.trailing.length).toBe(b.length - fdt.layout!.totalSize);
    expect(equalBytes(serializeFdt(fdt), b)).toBe(true);
  });

  it("Debian DTBs", () => {
    expect(realBlobs.length).toBeGreaterThan(0);
    for (const { name, bytes } of realBlobs) {
      const b = bytes();
      expect(equalBytes(serializeFdt(parseFdt(b)), b), name).toBe(true);
    }
  });

  it.runIf(haveDtc)("dtc output, with /memreserve/, padding (-p) and a string shared as a suffix", () => {
    const dts = `/dts-v1/;
/memreserve/ 0x48000000 0x100000;
/memreserve/ 0x80000000 0x1000;
/ {
  #address-cells = <2>; #size-cells = <2>;
  compatible = "kimage,test";
  a { linux,phandle = <1>; phandle = <1>; };
  memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x20000000>; };
  chosen { bootargs = "console=ttyAMA0"; };
};`;
    for (const extra of [[], ["-p", "512"], ["-S", "8192"]]) {
      const b = dtcCompile(dts, `suffix${extra.join("")}`, extra);
      const fdt = parseFdt(b);
      expect(fdt.reservations).toEqual([
        { address: 0x48000000n, size: 0x100000n },
        { address: 0x80000000n, size: 0x1000n },
      ]);
      expect(equalBytes(serializeFdt(fdt), b)).toBe(true);
      // dtc's own layout is what the compact layout reproduces.
      if (extra.length === 0) expect(equalBytes(serializeFdt(fdt, { layout: "compact", compactStrings: true }), b)).toBe(true);
    }
  });
});

describe("NOP tokens", () => {
  it.runIf(haveDtc)("are kept in place and dtc ignores them", () => {
    const fdt = createFdt();
    setU32(fdt.root, "#address-cells", 1);
    const chosen = ensureNode(fdt, "/chosen");
    setString(chosen, "bootargs", "quiet").nopsBefore = 2;
    chosen.nopsBefore = 1;
    chosen.nopsBeforeEnd = 3;
    const b = serializeFdt(fdt);
    const back = parseFdt(b);
    expect(back.nopsBeforeRoot).toBeUndefined();
    const c = requireNode(back, "/chosen");
    expect([c.nopsBefore, c.nopsBeforeEnd, c.props[0]?.nopsBefore]).toEqual([1, 3, 2]);
    expect(equalBytes(serializeFdt(back), b)).toBe(true);
    expect(dtsProps(dtsNodeBody(dtcDecompile(b, "nops"), "chosen")).get("bootargs")).toBe('"quiet"');
    // NOPs before the root's FDT_BEGIN_NODE: libfdt skips them (fdt_next_tag),
    // kimage keeps them, but dtc refuses such a blob ("Device tree blob
    // doesn't begin with FDT_BEGIN_NODE").
    back.nopsBeforeRoot = 1;
    const b2 = serializeFdt(back);
    expect(parseFdt(b2).nopsBeforeRoot).toBe(1);
    expect(equalBytes(serializeFdt(parseFdt(b2)), b2)).toBe(true);
    expect(() => dtcDecompile(b2, "nops-root")).toThrow(/FDT_BEGIN_NODE/);
    // Nor after the root's FDT_END_NODE ("doesn't end with FDT_END").
    back.nopsBeforeRoot = 0;
    back.nopsAfterRoot = 2;
    const b3 = serializeFdt(back);
    expect(parseFdt(b3).nopsAfterRoot).toBe(2);
    expect(equalBytes(serializeFdt(parseFdt(b3)), b3)).toBe(true);
    expect(() => dtcDecompile(b3, "nops-end")).toThrow(/FDT_END/);
  });
});

describe("editing /chosen and /memreserve/ for kexec", () => {
  it.runIf(haveDtc && haveQemuArm)("dtc accepts the edited QEMU blob and prints the new values", () => {
    const fdt = parseFdt(armVirt!);
    const chosen = ensureNode(fdt, "/chosen");
    const rng = createRng("kimage-fdt-test");
    const seed = kaslrSeed(rng);
    const rs = rngSeed(rng);
    setString(chosen, "bootargs", "console=ttyAMA0 panic=-1 root=/dev/vda");
    // drivers/of/kexec.c: fdt_setprop_u64(fdt, chosen_node, "linux,initrd-start", initrd_load_addr)
    setU64(chosen, "linux,initrd-start", 0x48000000n);
    setU64(chosen, "linux,initrd-end", 0x48123456n);
    setU64(chosen, "kaslr-seed", seed);
    setProp(chosen, "rng-seed", rs);
    setProp(chosen, "linux,booted-from-kexec", new Uint8Array(0));
    fdt.reservations.push({ address: 0x48000000n, size: 0x123456n });
    const out = serializeFdt(fdt);
    expect(out.length).toBeLessThan(armVirt!.length); // re-laid out like dtc

    const dts = dtcDecompile(out, "edited-arm64");
    const props = dtsProps(dtsNodeBody(dts, "chosen"));
    expect(props.get("bootargs")).toBe('"console=ttyAMA0 panic=-1 root=/dev/vda"');
    expect(cellsNumber(props.get("linux,initrd-start")!)).toBe(0x48000000n);
    expect(props.get("linux,initrd-start")).toBe("<0x00 0x48000000>");
    expect(cellsNumber(props.get("linux,initrd-end")!)).toBe(0x48123456n);
    expect(cellsNumber(props.get("kaslr-seed")!)).toBe(seed);
    expect(valueBytes(props.get("rng-seed")!).length).toBe(128);
    expect(equalBytes(valueBytes(props.get("rng-seed")!), rs)).toBe(true);
    expect(props.has("linux,booted-from-kexec")).toBe(true);
    expect(dts).toMatch(/^\/memreserve\/\s+0x0*48000000 0x0*123456;$/m);

    // Our own reader agrees, and the edited blob round-trips exactly.
    const back = parseFdt(out);
    const c = requireNode(back, "/chosen");
    expect(getString(c, "bootargs")).toBe("console=ttyAMA0 panic=-1 root=/dev/vda");
    expect(getU64(c, "linux,initrd-end")).toBe(0x48123456n);
    expect(back.reservations).toEqual([{ address: 0x48000000n, size: 0x123456n }]);
    expect(equalBytes(serializeFdt(back), out)).toBe(true);

    // dtc -O dtb of our output equals our compact layout with rebuilt strings.
    const p = join(dir, "edited-arm64.dtb");
    const viaDtc = readBytes((run("dtc", ["-q", "-I", "dtb", "-O", "dtb", "-o", `${p}.dtc`, p]), `${p}.dtc`));
    expect(equalBytes(serializeFdt(back, { layout: "compact", compactStrings: true }), viaDtc)).toBe(true);
  });

  it.runIf(haveDtc && haveQemuRv)("u32 initrd properties (as older loaders write them) read as numbers; delete and replace keep order", () => {
    const fdt = parseFdt(rvVirt!);
    const chosen = requireNode(fdt, "/chosen");
    const order = chosen.props.map((p) => p.name);
    setU32(chosen, "linux,initrd-start", 0x84000000);
    setU32(chosen, "linux,initrd-end", 0x84100000);
    expect(getU64(chosen, "linux,initrd-start")).toBe(0x84000000n);
    expect(deleteProp(chosen, "linux,initrd-end")).toBe(true);
    expect(deleteProp(chosen, "linux,initrd-end")).toBe(false);
    setStringList(chosen, "kimage,empty", ["a", "bc", ""]);
    expect(getStringList(chosen, "kimage,empty")).toEqual(["a", "bc", ""]);
    setStringList(chosen, "kimage,list", ["ab", "cde"]);
    expect(getStringList(chosen, "kimage,list")).toEqual(["ab", "cde"]);
    // Replacing an existing property keeps its position.
    if (order.length > 0) {
      setProp(chosen, order[0]!, new Uint8Array([1, 2, 3, 4]));
      expect(chosen.props[0]!.name).toBe(order[0]);
    }
    const out = serializeFdt(fdt);
    const props = dtsProps(dtsNodeBody(dtcDecompile(out, "edited-rv"), "chosen"));
    expect(props.get("linux,initrd-start")).toBe("<0x84000000>");
    expect(props.has("linux,initrd-end")).toBe(false);
    // dtc prints a stringlist read from a blob either way, by version.
    expect(props.get("kimage,list")).toMatch(/^"ab(\\0|", ")cde"$/);
  });

  it("same-size edits stay in place (in-place layout, gaps and trailing bytes kept)", () => {
    const b = (rvVirt ?? realBlobs[0]?.bytes())!;
    const fdt = parseFdt(b);
    const node = fdt.root;
    const p = node.props.find((x) => x.value.length === 4);
    expect(p).toBeDefined();
    p!.value = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
    const out = serializeFdt(fdt);
    expect(out.length).toBe(b.length);
    const diff = [...out].flatMap((x, i) => (x !== b[i] ? [i] : []));
    expect(diff.length).toBeGreaterThan(0);
    expect(diff.length).toBeLessThanOrEqual(4);
  });
});

describe("tree helpers", () => {
  it("paths, unit-address-less lookup, reg cells", () => {
    const fdt = createFdt();
    setU32(fdt.root, "#address-cells", 2);
    setU32(fdt.root, "#size-cells", 2);
    const mem = ensureNode(fdt, "/memory@40000000");
    setString(mem, "device_type", "memory");
    setReg(fdt.root, mem, [
      { address: 0x40000000n, size: 0x40000000n },
      { address: 0x100000000n, size: 0x80000000n },
    ]);
    expect(findNode(fdt, "/memory")).toBe(mem);
    expect(findNode(fdt, "/memory@40000000")).toBe(mem);
    expect(findNode(fdt, "/nope")).toBeUndefined();
    expect(() => requireNode(fdt, "/nope")).toThrowError(expect.objectContaining({ code: "fdt-no-node" }));
    const back = parseFdt(serializeFdt(fdt));
    expect(getReg(back.root, requireNode(back, "/memory"))).toEqual([
      { address: 0x40000000n, size: 0x40000000n },
      { address: 0x100000000n, size: 0x80000000n },
    ]);
    expect(getU32(back.root, "#size-cells")).toBe(2);
    expect(deleteNode(fdt, "/memory")).toBe(true);
    expect(findNode(fdt, "/memory")).toBeUndefined();
  });

  it("typed getters refuse wrong shapes", () => {
    const fdt = createFdt();
    setProp(fdt.root, "odd", new Uint8Array(3));
    setProp(fdt.root, "unterminated", new Uint8Array([0x61, 0x62]));
    expect(() => getU32(fdt.root, "odd")).toThrowError(expect.objectContaining({ code: "fdt-bad-property" }));
    expect(() => getU64(fdt.root, "odd")).toThrowError(expect.objectContaining({ code: "fdt-bad-property" }));
    expect(() => getString(fdt.root, "unterminated")).toThrowError(expect.objectContaining({ code: "fdt-bad-property" }));
    expect(() => setString(fdt.root, "x", "a\0b")).toThrowError(expect.objectContaining({ code: "bad-argument" }));
    expect(() => setU64(fdt.root, "x", 1n << 64n)).toThrowError(expect.objectContaining({ code: "bad-argument" }));
    expect(getU32(fdt.root, "absent")).toBeUndefined();
  });

  it("a tree built in code serializes like dtc (header, 0x28 / 0x38 offsets, version 17/16)", () => {
    const fdt: Fdt = createFdt();
    setString(ensureNode(fdt, "/chosen"), "bootargs", "x");
    const b = serializeFdt(fdt, { extraSpace: 100 });
    const dv = new DataView(b.buffer);
    expect(dv.getUint32(0)).toBe(0xd00dfeed);
    expect(dv.getUint32(4)).toBe(b.length);
    expect(dv.getUint32(16)).toBe(0x28); // off_mem_rsvmap
    expect(dv.getUint32(8)).toBe(0x38); // off_dt_struct
    expect([dv.getUint32(20), dv.getUint32(24)]).toEqual([17, 16]);
  });
});
