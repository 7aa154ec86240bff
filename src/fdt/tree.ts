/**
 * Editing helpers for an {@link Fdt} tree: node lookup by path, property
 * get/set/delete, and typed values (u32, u64, string, stringlist, `reg`
 * cells under `#address-cells` / `#size-cells`).
 *
 * Value encodings follow Devicetree Specification v0.4, 2.2.4 "Property
 * Values": `<u32>` "A 32-bit integer in big-endian format", `<u64>` "Represents
 * a 64-bit integer in big-endian format. Consists of two <u32> values where
 * the first value contains the most significant bits", `<string>` "Strings
 * are printable and null-terminated", `<stringlist>` "A list of <string>
 * values concatenated together", `<prop-encoded-array>` for `reg`.
 *
 * @module
 */

import { hex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { FDT_LAYER, FDT_LAST_COMP_VERSION, FDT_VERSION, type Fdt, type FdtNode, type FdtProperty } from "./spec.js";

function badProp(message: string): never {
  throw new KimageError("fdt-bad-property", message, { layer: FDT_LAYER, offset: -1 });
}

/** A new, empty devicetree (a root node only), laid out like dtc when serialized. */
export function createFdt(): Fdt {
  return {
    root: { name: "", props: [], children: [] },
    reservations: [],
    bootCpuidPhys: 0,
    version: FDT_VERSION,
    lastCompVersion: FDT_LAST_COMP_VERSION,
  };
}

function components(path: string): string[] {
  if (!path.startsWith("/")) {
    throw new KimageError("bad-argument", `devicetree path "${path}" is not absolute`, { layer: FDT_LAYER, offset: -1 });
  }
  return path.split("/").filter((c) => c.length > 0);
}

/**
 * The child of `node` named `name`. As libfdt's `fdt_subnode_offset()`
 * (`fdt_nodename_eq_`), a name without a unit address (`"memory"`) also
 * matches a child with one (`"memory@40000000"`); an exact match wins.
 */
export function findChild(node: FdtNode, name: string): FdtNode | undefined {
  const exact = node.children.find((c) => c.name === name);
  if (exact || name.includes("@")) return exact;
  return node.children.find((c) => c.name.startsWith(name + "@"));
}

/** The node at an absolute path such as `"/chosen"`, or undefined. */
export function findNode(fdt: Fdt, path: string): FdtNode | undefined {
  let node: FdtNode | undefined = fdt.root;
  for (const c of components(path)) {
    node = findChild(node, c);
    if (!node) return undefined;
  }
  return node;
}

/** The node at `path`; throws `fdt-no-node` when absent. */
export function requireNode(fdt: Fdt, path: string): FdtNode {
  const n = findNode(fdt, path);
  if (!n) throw new KimageError("fdt-no-node", `no node at "${path}"`, { layer: FDT_LAYER, offset: -1 });
  return n;
}

/** The node at `path`, creating missing nodes (appended as last children). */
export function ensureNode(fdt: Fdt, path: string): FdtNode {
  let node = fdt.root;
  for (const c of components(path)) {
    let next = findChild(node, c);
    if (!next) {
      next = { name: c, props: [], children: [] };
      node.children.push(next);
    }
    node = next;
  }
  return node;
}

/** Removes the node at `path` (not the root); returns whether it existed. */
export function deleteNode(fdt: Fdt, path: string): boolean {
  const cs = components(path);
  const last = cs.pop();
  if (last === undefined) return false;
  const parent = findNode(fdt, "/" + cs.join("/"));
  const child = parent && findChild(parent, last);
  if (!parent || !child) return false;
  parent.children.splice(parent.children.indexOf(child), 1);
  return true;
}

/** Every node with its absolute path, in blob (pre-order) order. */
export function* walkNodes(fdt: Fdt): Generator<{ path: string; node: FdtNode; parent?: FdtNode }> {
  const stack: { path: string; node: FdtNode; parent?: FdtNode }[] = [{ path: "/", node: fdt.root }];
  while (stack.length > 0) {
    const e = stack.pop()!;
    yield e;
    for (let i = e.node.children.length - 1; i >= 0; i--) {
      const c = e.node.children[i]!;
      stack.push({ path: (e.path === "/" ? "/" : e.path + "/") + c.name, node: c, parent: e.node });
    }
  }
}

/** The first property named `name`, or undefined. */
export function getProp(node: FdtNode, name: string): FdtProperty | undefined {
  return node.props.find((p) => p.name === name);
}

/**
 * Sets a property: replaces the value of an existing one in place (keeping
 * its position, original `nameoff` and NOPs, as libfdt's `fdt_setprop`
 * keeps the property where it is) or appends a new one.
 */
export function setProp(node: FdtNode, name: string, value: Uint8Array): FdtProperty {
  if (name.length === 0) throw new KimageError("bad-argument", "property name is empty", { layer: FDT_LAYER, offset: -1 });
  const p = getProp(node, name);
  if (p) {
    p.value = value;
    delete p.pad;
    return p;
  }
  const np: FdtProperty = { name, value };
  node.props.push(np);
  return np;
}

/**
 * Deletes every property named `name`; returns whether one existed. As
 * libfdt's `fdt_delprop` (`fdt_splice_struct_(fdt, prop, proplen, 0)`), only
 * the property's own bytes go: FDT_NOP tokens before it stay where they were
 * (they now precede the next property, the first subnode, or the node's
 * end). The kernel's /chosen keeps 11 of them where early boot NOPed QEMU's
 * 32-byte `rng-seed` (`fdt_nop_property`), and so does the DTB kexec_file
 * builds from it.
 */
export function deleteProp(node: FdtNode, name: string): boolean {
  const before = node.props.length;
  let carried = 0;
  const kept: FdtProperty[] = [];
  for (const p of node.props) {
    if (p.name === name) {
      carried += p.nopsBefore ?? 0;
      continue;
    }
    if (carried > 0) {
      p.nopsBefore = (p.nopsBefore ?? 0) + carried;
      carried = 0;
    }
    kept.push(p);
  }
  node.props = kept;
  if (carried > 0) {
    const child = node.children[0];
    if (child) child.nopsBefore = (child.nopsBefore ?? 0) + carried;
    else node.nopsBeforeEnd = (node.nopsBeforeEnd ?? 0) + carried;
  }
  return node.props.length !== before;
}

/** `<u32>` bytes. */
export function u32Value(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new KimageError("bad-argument", `${v} is not a u32`, { layer: FDT_LAYER, offset: -1 });
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, false);
  return b;
}

/** `<u64>` bytes (two cells, most significant first). */
export function u64Value(v: bigint): Uint8Array {
  if (v < 0n || v >= 1n << 64n) throw new KimageError("bad-argument", `${hex(v)} is not a u64`, { layer: FDT_LAYER, offset: -1 });
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, false);
  return b;
}

/** `<string>` bytes: UTF-8 and a NUL terminator (the string must not contain NUL). */
export function stringValue(s: string): Uint8Array {
  return stringListValue([s]);
}

/** `<stringlist>` bytes: each string UTF-8 encoded and NUL-terminated. */
export function stringListValue(list: readonly string[]): Uint8Array {
  const enc = new TextEncoder();
  const parts = list.map((s) => {
    if (s.includes("\0")) throw new KimageError("bad-argument", "a devicetree string cannot contain NUL", { layer: FDT_LAYER, offset: -1 });
    return enc.encode(s);
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length + 1;
  }
  return out;
}

/** Encodes `values` as consecutive numbers of `cells` 32-bit cells each. */
export function cellsValue(values: readonly bigint[], cells: number): Uint8Array {
  const out = new Uint8Array(values.length * cells * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => writeCells(dv, i * cells * 4, cells, v));
  return out;
}

function writeCells(dv: DataView, off: number, cells: number, v: bigint): void {
  if (v < 0n || v >= 1n << BigInt(32 * cells)) {
    throw new KimageError("bad-argument", `${hex(v)} does not fit ${cells} cell(s)`, { layer: FDT_LAYER, offset: -1 });
  }
  for (let c = cells - 1; c >= 0; c--) {
    dv.setUint32(off + c * 4, Number(v & 0xffffffffn), false);
    v >>= 32n;
  }
}

/** Reads `cells` big-endian 32-bit cells at `off` as one number (the kernel's `of_read_number`). */
export function readCells(value: Uint8Array, off: number, cells: number): bigint {
  if (off < 0 || off + cells * 4 > value.length) badProp(`${cells} cell(s) at byte ${off} run past a ${value.length}-byte value`);
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let v = 0n;
  for (let c = 0; c < cells; c++) v = (v << 32n) | BigInt(dv.getUint32(off + c * 4, false));
  return v;
}

function need(node: FdtNode, name: string): FdtProperty {
  const p = getProp(node, name);
  if (!p) badProp(`node "${node.name}" has no property "${name}"`);
  return p;
}

/** The `<u32>` property `name`, or undefined when absent; throws `fdt-bad-property` unless it is 4 bytes. */
export function getU32(node: FdtNode, name: string): number | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  if (p.value.length !== 4) badProp(`"${name}" is ${p.value.length} bytes, not a 4-byte <u32>`);
  return Number(readCells(p.value, 0, 1));
}

/**
 * A number property of one or two cells, or undefined when absent. As the
 * kernel reads `linux,initrd-start` (drivers/of/fdt.c:
 * `start = of_read_number(prop, len/4)`), both a `<u32>` and a `<u64>` are
 * accepted.
 */
export function getU64(node: FdtNode, name: string): bigint | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  if (p.value.length !== 4 && p.value.length !== 8) badProp(`"${name}" is ${p.value.length} bytes, not a <u32> or <u64>`);
  return readCells(p.value, 0, p.value.length / 4);
}

/** The `<string>` property `name`, or undefined; throws unless NUL-terminated with no inner NUL. */
export function getString(node: FdtNode, name: string): string | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  const list = decodeStringList(p);
  if (list.length !== 1) badProp(`"${name}" holds ${list.length} strings, not one <string>`);
  return list[0];
}

/** The `<stringlist>` property `name`, or undefined. */
export function getStringList(node: FdtNode, name: string): string[] | undefined {
  const p = getProp(node, name);
  return p ? decodeStringList(p) : undefined;
}

function decodeStringList(p: FdtProperty): string[] {
  const v = p.value;
  if (v.length === 0) return [];
  if (v[v.length - 1] !== 0) badProp(`"${p.name}" is not NUL-terminated`);
  const dec = new TextDecoder();
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0) {
      out.push(dec.decode(v.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/** Sets a `<u32>` property. */
export function setU32(node: FdtNode, name: string, v: number): FdtProperty {
  return setProp(node, name, u32Value(v));
}
/** Sets a `<u64>` property (as `fdt_setprop_u64`). */
export function setU64(node: FdtNode, name: string, v: bigint): FdtProperty {
  return setProp(node, name, u64Value(v));
}
/** Sets a `<string>` property (as `fdt_setprop_string`). */
export function setString(node: FdtNode, name: string, s: string): FdtProperty {
  return setProp(node, name, stringValue(s));
}
/** Sets a `<stringlist>` property. */
export function setStringList(node: FdtNode, name: string, list: readonly string[]): FdtProperty {
  return setProp(node, name, stringListValue(list));
}

/**
 * `#address-cells` of `node` (the cells its children's `reg` addresses use).
 * Specification 2.3.5: "If missing, a client program should assume a default
 * value of 2 for #address-cells, and a value of 1 for #size-cells." (Linux
 * assumes 1 and 1 for the root: OF_ROOT_NODE_ADDR_CELLS_DEFAULT; pass
 * `fallback` to choose.)
 */
export function addressCells(node: FdtNode, fallback = 2): number {
  const v = getU32(node, "#address-cells") ?? fallback;
  if (v > 4) badProp(`#address-cells = ${v} is above 4`);
  return v;
}

/** `#size-cells` of `node`; see {@link addressCells}. */
export function sizeCells(node: FdtNode, fallback = 1): number {
  const v = getU32(node, "#size-cells") ?? fallback;
  if (v > 4) badProp(`#size-cells = ${v} is above 4`);
  return v;
}

/** One `reg` (address, size) pair. */
export interface RegEntry {
  address: bigint;
  size: bigint;
}

/**
 * Decodes a `<prop-encoded-array>` of (address, size) pairs — `reg`,
 * `linux,usable-memory`, `linux,usable-memory-range` — with the given cell
 * counts. 2.3.6: "The reg property describes the address of the device's
 * resources within the address space defined by its parent bus ... a
 * (address, length) pair ... specified by the #address-cells and #size-cells
 * properties in the parent of the device node".
 */
export function decodeReg(value: Uint8Array, ac: number, sc: number, name = "reg"): RegEntry[] {
  const stride = (ac + sc) * 4;
  if (stride === 0 || value.length % stride !== 0) {
    badProp(`"${name}" is ${value.length} bytes, not a multiple of (${ac} + ${sc}) cells`);
  }
  const out: RegEntry[] = [];
  for (let o = 0; o < value.length; o += stride) {
    out.push({ address: readCells(value, o, ac), size: readCells(value, o + ac * 4, sc) });
  }
  return out;
}

/** Encodes (address, size) pairs with the given cell counts. */
export function encodeReg(entries: readonly RegEntry[], ac: number, sc: number): Uint8Array {
  const out = new Uint8Array(entries.length * (ac + sc) * 4);
  const dv = new DataView(out.buffer);
  entries.forEach((e, i) => {
    const o = i * (ac + sc) * 4;
    writeCells(dv, o, ac, e.address);
    writeCells(dv, o + ac * 4, sc, e.size);
  });
  return out;
}

/** The `reg` of `node`, decoded with its parent's cell counts; undefined when absent. */
export function getReg(parent: FdtNode, node: FdtNode, name = "reg"): RegEntry[] | undefined {
  const p = getProp(node, name);
  if (!p) return undefined;
  return decodeReg(p.value, addressCells(parent), sizeCells(parent), name);
}

/** Sets the `reg` of `node` with its parent's cell counts. */
export function setReg(parent: FdtNode, node: FdtNode, entries: readonly RegEntry[], name = "reg"): FdtProperty {
  return setProp(node, name, encodeReg(entries, addressCells(parent), sizeCells(parent)));
}

/** The property `name` of `node`; throws `fdt-bad-property` when absent. */
export function requireProp(node: FdtNode, name: string): FdtProperty {
  return need(node, name);
}
