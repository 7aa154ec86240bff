/**
 * Serializing an {@link Fdt} back to a DTB.
 *
 * **Round-trip exactness.** `serializeFdt(parseFdt(b))` is byte-identical to
 * `b` because the parser keeps everything the tree alone does not say:
 *
 * - non-zero padding bytes after names and values (QEMU's DTBs have them),
 *   written back in the in-place layout while the padded item keeps its
 *   length (a dtc layout zeroes all padding, as 5.4.1 asks);
 * - the FDT_NOP tokens, as counts attached to the next property / node /
 *   FDT_END_NODE / FDT_END;
 * - the strings block as it was (its order, strings shared as suffixes of
 *   others such as `"phandle"` inside `"linux,phandle"`, and strings no
 *   property uses), plus each property's original `nameoff`: the serializer
 *   starts from that block, reuses a property's original offset while the
 *   string there still spells its name, and otherwise looks the name up the
 *   way dtc's `stringtable_insert` and libfdt's `fdt_find_add_string_` do (the
 *   first position where the NUL-terminated name occurs, suffixes included)
 *   or appends it;
 * - the header's block offsets and totalsize, the bytes of every gap between
 *   blocks, and any bytes after totalsize.
 *
 * While the memory reservation, structure and strings blocks keep their
 * original sizes (no edit, or an edit of equal size such as a new u64
 * value), they are written back at their original offsets inside the
 * original gaps: an in-place edit. Once a size changes, the blob is laid out
 * as dtc's `make_fdt_header` does for version 17: the header, the memory
 * reservation block at the next 8-byte boundary (0x28), the structure block,
 * then the strings block; totalsize is the end of the strings block plus
 * {@link SerializeOptions.extraSpace} zero bytes (dtc `-p`); bytes after the
 * input's totalsize are dropped.
 *
 * @module
 */

import { hex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_LAST_COMP_VERSION,
  FDT_LAYER,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
  type Fdt,
  type FdtNode,
} from "./spec.js";

/** Options of {@link serializeFdt}. */
export interface SerializeOptions {
  /**
   * `"auto"` (default): keep the input's layout while every block keeps its
   * size, else lay out like dtc. `"compact"`: always lay out like dtc.
   */
  layout?: "auto" | "compact";
  /** Rebuild the strings block from the tree (dtc order, unused strings dropped). Implies a dtc layout when sizes change. */
  compactStrings?: boolean;
  /** Zero bytes added after the strings block in a dtc layout (free space for later in-place edits). Default 0. */
  extraSpace?: number;
}

function badArg(message: string): never {
  throw new KimageError("bad-argument", message, { layer: FDT_LAYER, offset: -1 });
}

/** A growable big-endian byte writer. */
class Writer {
  buf = new Uint8Array(1024);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const o = this.len;
    b[o] = v >>> 24;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
    this.len += 4;
  }
  bytes(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.len);
    this.len += v.length;
  }
  latin1z(s: string): void {
    this.ensure(s.length + 1);
    for (let i = 0; i < s.length; i++) this.buf[this.len + i] = s.charCodeAt(i);
    this.buf[this.len + s.length] = 0;
    this.len += s.length + 1;
  }
  /** Pads to 4 bytes with zeros, or with `kept` when it has exactly the needed length. */
  pad4(kept?: Uint8Array): void {
    const n = (4 - (this.len % 4)) % 4;
    this.ensure(n);
    if (kept && kept.length === n) this.buf.set(kept, this.len);
    else this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }
  nops(n: number | undefined): void {
    for (let i = 0; i < (n ?? 0); i++) this.u32(FDT_NOP);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function checkName(name: string, what: string, allowEmpty: boolean): void {
  if (name.length === 0 && !allowEmpty) badArg(`${what} is empty`);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c > 0xff) badArg(`${what} "${name}" contains a NUL or a character above U+00FF`);
  }
}

/**
 * The strings block under construction: starts from the original block (or
 * empty) and appends names not found, with dtc's first-match lookup.
 */
class StringTable {
  private text: string;
  constructor(initial: Uint8Array | undefined) {
    let s = "";
    if (initial) for (const b of initial) s += String.fromCharCode(b);
    this.text = s;
  }
  offset(name: string, hint: number | undefined): number {
    const z = name + "\0";
    if (hint !== undefined && hint >= 0 && this.text.startsWith(z, hint)) return hint;
    // dtc stringtable_insert(): `for (i = 0; i < d->len; i++) if (streq(str, d->val + i)) return i;`
    const at = this.text.indexOf(z);
    if (at >= 0) return at;
    const off = this.text.length;
    this.text += z;
    return off;
  }
  bytes(): Uint8Array {
    const b = new Uint8Array(this.text.length);
    for (let i = 0; i < b.length; i++) b[i] = this.text.charCodeAt(i);
    return b;
  }
}

/** The three blocks of a blob, before layout. */
export interface FdtBlocks {
  memRsvmap: Uint8Array;
  struct: Uint8Array;
  strings: Uint8Array;
}

/** Encodes the memory reservation, structure and strings blocks of `fdt`. */
export function encodeFdtBlocks(fdt: Fdt, options: SerializeOptions = {}, keepPadding = true): FdtBlocks {
  const mem = new Uint8Array((fdt.reservations.length + 1) * 16);
  const mdv = new DataView(mem.buffer);
  fdt.reservations.forEach((r, i) => {
    if (r.address < 0n || r.size < 0n || r.address + r.size > 1n << 64n) {
      badArg(`reservation ${i} (${hex(r.address)}+${hex(r.size)}) is not a u64 range`);
    }
    mdv.setBigUint64(i * 16, r.address, false);
    mdv.setBigUint64(i * 16 + 8, r.size, false);
  });

  const strings = new StringTable(options.compactStrings ? undefined : fdt.layout?.strings);
  const useHints = !options.compactStrings;
  const w = new Writer();
  w.nops(fdt.nopsBeforeRoot);
  checkName(fdt.root.name, "root node name", true);
  if (fdt.root.name !== "") badArg(`the root node's name must be empty, not "${fdt.root.name}"`);
  // Iterative pre-order walk: each frame is a node and the next child index.
  const stack: { node: FdtNode; next: number }[] = [];
  const open = (node: FdtNode, isRoot: boolean) => {
    if (!isRoot) {
      w.nops(node.nopsBefore);
      checkName(node.name, "node name", false);
    }
    if (stack.length >= 4096) badArg("the tree is deeper than 4096 levels");
    w.u32(FDT_BEGIN_NODE);
    w.latin1z(node.name);
    w.pad4(keepPadding ? node.namePad : undefined);
    for (const p of node.props) {
      checkName(p.name, "property name", false);
      if (p.value.length > 0xffffffff) badArg(`property "${p.name}" is longer than 2^32-1 bytes`);
      w.nops(p.nopsBefore);
      w.u32(FDT_PROP);
      w.u32(p.value.length);
      w.u32(strings.offset(p.name, useHints ? p.nameOffset : undefined));
      w.bytes(p.value);
      w.pad4(keepPadding ? p.pad : undefined);
    }
    stack.push({ node, next: 0 });
  };
  open(fdt.root, true);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const child = top.node.children[top.next++];
    if (child) {
      open(child, false);
    } else {
      w.nops(top.node.nopsBeforeEnd);
      w.u32(FDT_END_NODE);
      stack.pop();
    }
  }
  w.nops(fdt.nopsAfterRoot);
  w.u32(FDT_END);
  return { memRsvmap: mem, struct: w.done(), strings: strings.bytes() };
}

/**
 * Serializes `fdt` to a DTB (see the module comment for the layout rules).
 *
 * @throws KimageError `bad-argument` when a name contains a NUL or a
 *   character above U+00FF, or a reservation is not a u64 range.
 */
export function serializeFdt(fdt: Fdt, options: SerializeOptions = {}): Uint8Array {
  let blocks = encodeFdtBlocks(fdt, options);
  const L = fdt.layout;
  const exact =
    L !== undefined &&
    (options.layout ?? "auto") === "auto" &&
    blocks.memRsvmap.length === L.sizeMemRsvmap &&
    blocks.struct.length === L.sizeDtStruct &&
    blocks.strings.length === L.sizeDtStrings;

  let out: Uint8Array;
  let offMem: number;
  let offStruct: number;
  let offStrings: number;
  let totalSize: number;
  let version = fdt.version;
  let lastComp = fdt.lastCompVersion;
  if (exact) {
    totalSize = L.totalSize;
    out = new Uint8Array(totalSize + L.trailing.length);
    for (const g of L.gaps) out.set(g.bytes, g.offset);
    out.set(L.trailing, totalSize);
    offMem = L.offMemRsvmap;
    offStruct = L.offDtStruct;
    offStrings = L.offDtStrings;
  } else {
    // dtc flattree.c make_fdt_header(): reserve_off = ALIGN(hdrsize, 8);
    // dt_off = reserve_off + reservesize; strings_off = dt_off + dtsize.
    // A fresh layout gets the zeroed padding 5.4.1 asks for.
    blocks = encodeFdtBlocks(fdt, options, false);
    const extra = options.extraSpace ?? 0;
    if (!Number.isSafeInteger(extra) || extra < 0) badArg(`extraSpace ${extra} is not a non-negative integer`);
    offMem = (FDT_HEADER_SIZE + 7) & ~7;
    offStruct = offMem + blocks.memRsvmap.length;
    offStrings = offStruct + blocks.struct.length;
    totalSize = offStrings + blocks.strings.length + extra;
    if (totalSize > 0xffffffff) badArg(`the blob would be ${totalSize} bytes, more than totalsize can say`);
    out = new Uint8Array(totalSize);
    version = FDT_VERSION;
    lastComp = FDT_LAST_COMP_VERSION;
  }
  out.set(blocks.memRsvmap, offMem);
  out.set(blocks.struct, offStruct);
  out.set(blocks.strings, offStrings);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const fields = [
    FDT_MAGIC,
    totalSize,
    offStruct,
    offStrings,
    offMem,
    version,
    lastComp,
    fdt.bootCpuidPhys,
    blocks.strings.length,
    blocks.struct.length,
  ];
  fields.forEach((f, i) => dv.setUint32(i * 4, f >>> 0, false));
  return out;
}
