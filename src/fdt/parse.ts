/**
 * Parsing a flattened devicetree blob (DTB) into an editable {@link Fdt}.
 *
 * Every read is bounded ({@link ByteView}), every count is limited
 * ({@link FdtLimits}), the walk is iterative (no recursion), and every
 * failure is a {@link KimageError} with layer `"fdt"` and the absolute offset
 * of the offending field.
 *
 * Besides the tree, the parser records the input's {@link FdtLayout} (block
 * offsets, padding, the strings block as it was, bytes after totalsize) and
 * the FDT_NOP tokens, so that `serializeFdt(parseFdt(b))` reproduces `b`.
 *
 * @module
 */

import { ByteView, hex } from "../core/bytes.js";
import { KimageError, type ErrorCode } from "../core/errors.js";
import {
  DEFAULT_FDT_LIMITS,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_LAYER,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
  type Fdt,
  type FdtLayout,
  type FdtLimits,
  type FdtNode,
  type FdtProperty,
  type FdtReservation,
} from "./spec.js";

function fail(code: ErrorCode, message: string, offset: number): never {
  throw new KimageError(code, message, { layer: FDT_LAYER, offset });
}

/** The ten header fields of 5.2, as read. */
export interface FdtHeader {
  magic: number;
  totalSize: number;
  offDtStruct: number;
  offDtStrings: number;
  offMemRsvmap: number;
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  sizeDtStrings: number;
  sizeDtStruct: number;
}

/**
 * Reads and checks the 40-byte header.
 *
 * 5.2: "totalsize This field shall contain the total size in bytes of the
 * devicetree data structure. This size shall encompass all sections of the
 * structure: the header, the memory reservation block, structure block and
 * strings block, as well as any free space gaps between the blocks or after
 * the final block." 5.3: "The memory reservation block shall be aligned to an
 * 8-byte boundary"; 5.4: "The structure block ... shall be aligned to a
 * 4-byte boundary".
 */
export function parseFdtHeader(bytes: Uint8Array, limits: Partial<FdtLimits> = {}): FdtHeader {
  const lim = { ...DEFAULT_FDT_LIMITS, ...limits };
  const v = new ByteView(bytes, FDT_LAYER);
  if (bytes.length < 4) v.need(0, 4, "fdt_header.magic");
  const magic = v.u32be(0, "fdt_header.magic");
  if (magic !== FDT_MAGIC) fail("fdt-bad-magic", `magic is ${hex(magic)}, not 0xd00dfeed`, 0);
  v.need(0, FDT_HEADER_SIZE, "fdt_header");
  const h: FdtHeader = {
    magic,
    totalSize: v.u32be(4, "totalsize"),
    offDtStruct: v.u32be(8, "off_dt_struct"),
    offDtStrings: v.u32be(12, "off_dt_strings"),
    offMemRsvmap: v.u32be(16, "off_mem_rsvmap"),
    version: v.u32be(20, "version"),
    lastCompVersion: v.u32be(24, "last_comp_version"),
    bootCpuidPhys: v.u32be(28, "boot_cpuid_phys"),
    sizeDtStrings: v.u32be(32, "size_dt_strings"),
    sizeDtStruct: v.u32be(36, "size_dt_struct"),
  };
  // Versions below 17 lack size_dt_struct; a last_comp_version above 17 says
  // a v17 reader cannot understand the blob.
  if (h.version < FDT_VERSION || h.lastCompVersion > FDT_VERSION) {
    fail("fdt-bad-version", `version ${h.version}, last_comp_version ${h.lastCompVersion}: kimage reads version >= 17 with last_comp_version <= 17`, 20);
  }
  if (h.totalSize > lim.maxTotalSize) {
    throw new KimageError("limit", `totalsize ${h.totalSize} exceeds the limit ${lim.maxTotalSize}`, { layer: FDT_LAYER, offset: 4 });
  }
  if (h.totalSize < FDT_HEADER_SIZE || h.totalSize > bytes.length) {
    fail("fdt-bad-header", `totalsize ${hex(h.totalSize)} is below the header size or past the end of the input (${hex(bytes.length)})`, 4);
  }
  const inside = (off: number, size: number, field: string, at: number) => {
    if (off < FDT_HEADER_SIZE || off + size > h.totalSize) {
      fail("fdt-bad-header", `${field}: [${hex(off)}, ${hex(off + size)}) is not inside [header end, totalsize ${hex(h.totalSize)})`, at);
    }
  };
  inside(h.offDtStruct, h.sizeDtStruct, "structure block", 8);
  inside(h.offDtStrings, h.sizeDtStrings, "strings block", 12);
  inside(h.offMemRsvmap, 16, "memory reservation block", 16);
  if (h.offMemRsvmap % 8 !== 0) fail("fdt-bad-header", `off_mem_rsvmap ${hex(h.offMemRsvmap)} is not 8-byte aligned`, 16);
  if (h.offDtStruct % 4 !== 0) fail("fdt-bad-header", `off_dt_struct ${hex(h.offDtStruct)} is not 4-byte aligned`, 8);
  if (h.sizeDtStruct % 4 !== 0) fail("fdt-bad-header", `size_dt_struct ${hex(h.sizeDtStruct)} is not a multiple of 4`, 36);
  return h;
}

/**
 * Parses a DTB. The input may be longer than totalsize (the extra bytes are
 * kept in {@link FdtLayout.trailing}); property values are zero-copy views
 * of `bytes`.
 *
 * @throws KimageError `fdt-*`, `truncated` or `limit` on malformed input.
 */
export function parseFdt(bytes: Uint8Array, limits: Partial<FdtLimits> = {}): Fdt {
  const lim = { ...DEFAULT_FDT_LIMITS, ...limits };
  const h = parseFdtHeader(bytes, lim);
  const v = new ByteView(bytes.subarray(0, h.totalSize), FDT_LAYER);

  // 5.3 memory reservation block.
  const reservations: FdtReservation[] = [];
  let off = h.offMemRsvmap;
  for (;;) {
    if (!v.has(off, 16)) fail("fdt-bad-memrsv", "the memory reservation block has no (0, 0) terminator before totalsize", off);
    const address = v.u64be(off, "fdt_reserve_entry.address");
    const size = v.u64be(off + 8, "fdt_reserve_entry.size");
    off += 16;
    if (address === 0n && size === 0n) break;
    if (address + size > 1n << 64n) fail("fdt-bad-memrsv", `reservation ${hex(address)}+${hex(size)} wraps past 2^64`, off - 16);
    if (reservations.length >= lim.maxReservations) {
      throw new KimageError("limit", `more than ${lim.maxReservations} memory reservations`, { layer: FDT_LAYER, offset: off - 16 });
    }
    reservations.push({ address, size });
  }
  const sizeMemRsvmap = off - h.offMemRsvmap;

  // The three blocks must not overlap one another.
  const blocks = [
    { start: h.offMemRsvmap, end: h.offMemRsvmap + sizeMemRsvmap, name: "memory reservation block", at: 16 },
    { start: h.offDtStruct, end: h.offDtStruct + h.sizeDtStruct, name: "structure block", at: 8 },
    { start: h.offDtStrings, end: h.offDtStrings + h.sizeDtStrings, name: "strings block", at: 12 },
  ].sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < blocks.length; i++) {
    const a = blocks[i - 1]!;
    const b = blocks[i]!;
    if (b.start < a.end && b.end > b.start && a.end > a.start) {
      fail("fdt-bad-header", `the ${b.name} [${hex(b.start)}, ${hex(b.end)}) overlaps the ${a.name} [${hex(a.start)}, ${hex(a.end)})`, b.at);
    }
  }
  const gaps: FdtLayout["gaps"] = [];
  let cursor = FDT_HEADER_SIZE;
  for (const b of blocks) {
    if (b.start > cursor) gaps.push({ offset: cursor, bytes: v.slice(cursor, b.start - cursor, "gap") });
    cursor = Math.max(cursor, b.end);
  }
  if (h.totalSize > cursor) gaps.push({ offset: cursor, bytes: v.slice(cursor, h.totalSize - cursor, "gap") });

  const strings = v.sub(h.offDtStrings, h.sizeDtStrings, "strings block");
  const nameCache = new Map<number, string>();
  const propName = (nameoff: number, at: number): string => {
    const cached = nameCache.get(nameoff);
    if (cached !== undefined) return cached;
    if (nameoff >= strings.length) fail("fdt-bad-string", `nameoff ${hex(nameoff)} is outside the strings block (size ${hex(strings.length)})`, at);
    const s = readName(strings, nameoff, lim.maxNameLength, "property name", at);
    if (s.length === 0) fail("fdt-bad-string", `nameoff ${hex(nameoff)} points at an empty string`, at);
    nameCache.set(nameoff, s);
    return s;
  };

  // 5.4 structure block, walked iteratively.
  const st = v.sub(h.offDtStruct, h.sizeDtStruct, "structure block");
  let p = 0;
  let nops = 0;
  let nodes = 0;
  let props = 0;
  let root: FdtNode | undefined;
  let nopsBeforeRoot: number | undefined;
  let nopsAfterRoot: number | undefined;
  const stack: FdtNode[] = [];
  let ended = false;
  while (!ended) {
    if (!st.has(p, 4)) fail("fdt-bad-structure", "the structure block ends without an FDT_END token", st.abs(p));
    const tokenAt = st.abs(p);
    const token = st.u32be(p, "token");
    p += 4;
    switch (token) {
      case FDT_NOP:
        nops++;
        break;
      case FDT_BEGIN_NODE: {
        if (root !== undefined && stack.length === 0) fail("fdt-bad-structure", "a second top-level node follows the root", tokenAt);
        if (stack.length >= lim.maxDepth) {
          throw new KimageError("limit", `node nesting deeper than ${lim.maxDepth}`, { layer: FDT_LAYER, offset: tokenAt });
        }
        if (++nodes > lim.maxNodes) throw new KimageError("limit", `more than ${lim.maxNodes} nodes`, { layer: FDT_LAYER, offset: tokenAt });
        const name = readName(st, p, lim.maxNameLength, "node name", st.abs(p));
        const namePad = padding(st, p + name.length + 1);
        p = align4(p + name.length + 1);
        const node: FdtNode = { name, props: [], children: [] };
        if (namePad) node.namePad = namePad;
        if (nops) node.nopsBefore = nops;
        nops = 0;
        const parent = stack[stack.length - 1];
        if (parent) parent.children.push(node);
        else {
          if (name !== "") fail("fdt-bad-structure", `the root node's name is "${name}", not empty`, tokenAt + 4);
          root = node;
          if (node.nopsBefore) {
            nopsBeforeRoot = node.nopsBefore;
            delete node.nopsBefore;
          }
        }
        stack.push(node);
        break;
      }
      case FDT_END_NODE: {
        const node = stack.pop();
        if (!node) fail("fdt-bad-structure", "FDT_END_NODE without a matching FDT_BEGIN_NODE", tokenAt);
        if (nops) node.nopsBeforeEnd = nops;
        nops = 0;
        break;
      }
      case FDT_PROP: {
        const node = stack[stack.length - 1];
        if (!node) fail("fdt-bad-token", "FDT_PROP outside any node", tokenAt);
        if (node.children.length > 0) {
          fail("fdt-bad-structure", `a property follows a subnode in "${node.name}" (5.4.2: properties precede subnodes)`, tokenAt);
        }
        const len = st.u32be(p, "fdt_property.len");
        const nameoff = st.u32be(p + 4, "fdt_property.nameoff");
        if (len > lim.maxPropertySize) {
          throw new KimageError("limit", `property length ${len} exceeds the limit ${lim.maxPropertySize}`, { layer: FDT_LAYER, offset: st.abs(p) });
        }
        if (++props > lim.maxProperties) {
          throw new KimageError("limit", `more than ${lim.maxProperties} properties`, { layer: FDT_LAYER, offset: tokenAt });
        }
        const name = propName(nameoff, st.abs(p + 4));
        const value = st.slice(p + 8, len, `value of "${name}"`);
        const pad = padding(st, p + 8 + len);
        p = align4(p + 8 + len);
        const prop: FdtProperty = { name, value, nameOffset: nameoff };
        if (pad) prop.pad = pad;
        if (nops) prop.nopsBefore = nops;
        nops = 0;
        node.props.push(prop);
        break;
      }
      case FDT_END:
        if (stack.length !== 0) fail("fdt-bad-structure", `FDT_END inside node "${stack[stack.length - 1]!.name}"`, tokenAt);
        if (!root) fail("fdt-bad-structure", "FDT_END before any node", tokenAt);
        if (nops) nopsAfterRoot = nops;
        ended = true;
        break;
      default:
        fail("fdt-bad-token", `unknown token ${hex(token)}`, tokenAt);
    }
  }
  if (p !== st.length) {
    fail("fdt-bad-structure", `${st.length - p} byte(s) follow FDT_END inside size_dt_struct (5.4.1: FDT_END "shall be the last token")`, st.abs(p));
  }

  const layout: FdtLayout = {
    totalSize: h.totalSize,
    offMemRsvmap: h.offMemRsvmap,
    offDtStruct: h.offDtStruct,
    offDtStrings: h.offDtStrings,
    sizeDtStruct: h.sizeDtStruct,
    sizeDtStrings: h.sizeDtStrings,
    sizeMemRsvmap,
    strings: strings.bytes,
    gaps,
    trailing: bytes.subarray(h.totalSize),
  };
  const fdt: Fdt = {
    root: root as FdtNode,
    reservations,
    bootCpuidPhys: h.bootCpuidPhys,
    version: h.version,
    lastCompVersion: h.lastCompVersion,
    layout,
  };
  if (nopsBeforeRoot) fdt.nopsBeforeRoot = nopsBeforeRoot;
  if (nopsAfterRoot) fdt.nopsAfterRoot = nopsAfterRoot;
  return fdt;
}

/** The padding bytes from `end` to the next 4-byte boundary, when any is non-zero. */
function padding(st: ByteView, end: number): Uint8Array | undefined {
  const n = align4(end) - end;
  const b = st.slice(end, n, "padding");
  return b.some((x) => x !== 0) ? b : undefined;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** A NUL-terminated name inside `v` at `off`; the NUL must lie within the view and `max` bytes. */
function readName(v: ByteView, off: number, max: number, field: string, at: number): string {
  const b = v.bytes;
  const end = Math.min(b.length, off + max + 1);
  let s = "";
  for (let i = off; i < end; i++) {
    const c = b[i] as number;
    if (c === 0) return s;
    s += String.fromCharCode(c);
  }
  if (end === b.length) fail("fdt-bad-string", `${field} at ${hex(at)} is not NUL-terminated inside its block`, at);
  throw new KimageError("limit", `${field} at ${hex(at)} is longer than ${max} bytes`, { layer: FDT_LAYER, offset: at });
}
