/**
 * A plan drawn as a memory map: one SVG document as a string, with no DOM,
 * shared by `kimage plan --svg FILE` and the web page.
 *
 * The picture has two tracks over one address axis: the memory map (RAM and
 * the other region types, excluded ranges hatched over it), then the plan's
 * segments at scale, each labelled with its name, address and size, and the
 * entry point as a marker. Every segment is one element
 * `<g data-segment="NAME" data-mem="0x…" data-memsz="0x…">` carrying the
 * same hex strings as `plan.json` (`mem`, `memsz`), so a reader (a test, a
 * script) can check the picture against the plan without parsing geometry.
 *
 * Scales: `linear` puts every byte at the same width (a 16 MiB kernel in
 * 4 GiB of RAM is a sliver, so a segment is never drawn narrower than
 * {@link MIN_SEGMENT_PX}); `log` gives each stretch between two boundaries
 * of interest (region, excluded range or segment starts and ends) a width
 * that grows with the logarithm of its size, so a sparse map shows a 4 KiB
 * segment beside gigabytes of free RAM while keeping the order of addresses.
 *
 * @module
 */

import type { MemoryMap, MemoryType, Range } from "./core/memory.js";
import type { AnyPlan } from "./core/types.js";

/** Options of {@link planSvg}. */
export interface PlanSvgOptions {
  /** The memory map the plan was made for (RAM and other regions); without it only the segments are drawn. */
  memory?: MemoryMap;
  /** The ranges the plan had to avoid (`--exclude`), drawn hatched over the map. */
  exclude?: readonly Range[];
  /** `linear` (default) or `log` (see the module comment). */
  scale?: "linear" | "log";
  /** The drawing's width in px (default 960; at least 320). */
  width?: number;
}

/** The narrowest a segment is drawn in the linear scale, in px. */
export const MIN_SEGMENT_PX = 3;

/** Fill colours of the memory types (a legend is drawn with them). */
const REGION_FILL: Record<MemoryType, string> = {
  ram: "#cfe8cf",
  crash: "#f6d7a7",
  "soft-reserved": "#e2e8f0",
  pmem: "#c6dcf0",
  acpi: "#e4d4f2",
  nvs: "#e4d4f2",
  reserved: "#cbd5e0",
  unusable: "#f3b7b7",
};

/** A segment's fill: by what it is (names as the arch modules give them). */
function segmentFill(name: string): string {
  if (name.includes("kernel")) return "#2b6cb0";
  if (name.includes("initrd")) return "#2f855a";
  if (name.includes("dtb") || name.includes("bootparams") || name.includes("boot_params")) return "#b7791f";
  if (name.includes("purgatory")) return "#6b46c1";
  if (name.includes("elfcorehdr")) return "#c53030";
  return "#4a5568";
}

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** Escapes text for an XML attribute or text node. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
}

/** A byte count in binary units (`16 MiB`, `8 KiB`, `300 B`), exact to one decimal. */
export function formatSize(n: bigint): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let u = 0;
  let scaled = n * 10n;
  while (u < units.length - 1 && scaled >= 10240n) {
    scaled /= 1024n;
    u++;
  }
  const whole = scaled / 10n;
  const frac = scaled % 10n;
  return `${whole}${frac === 0n ? "" : `.${frac}`} ${units[u] ?? "B"}`;
}

/**
 * The address → x mapping: sorted breakpoints with their x positions;
 * between two breakpoints an address is placed linearly.
 */
interface Axis {
  points: bigint[];
  xs: number[];
}

function makeAxis(bounds: bigint[], scale: "linear" | "log", x0: number, width: number): Axis {
  const points = [...new Set(bounds)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lo = points[0] ?? 0n;
  const hi = points[points.length - 1] ?? 1n;
  if (scale === "linear" || points.length < 2) {
    const top = hi > lo ? hi : lo + 1n;
    return { points: [lo, top], xs: [x0, x0 + width] };
  }
  // log: each stretch weighs log2 of its size (at least 1), so 4 KiB and 4 GiB differ by 2x in width, not 10^6.
  const weights: number[] = [];
  for (let i = 0; i < points.length - 1; i++) weights.push(Math.max(1, Math.log2(Number((points[i + 1] as bigint) - (points[i] as bigint)))));
  const total = weights.reduce((a, b) => a + b, 0);
  const xs = [x0];
  let acc = 0;
  for (const w of weights) {
    acc += w;
    xs.push(x0 + (width * acc) / total);
  }
  return { points, xs };
}

function xOf(axis: Axis, a: bigint): number {
  const { points, xs } = axis;
  const n = points.length;
  if (a <= (points[0] as bigint)) return xs[0] as number;
  if (a >= (points[n - 1] as bigint)) return xs[n - 1] as number;
  let i = 0;
  while (i < n - 2 && a >= (points[i + 1] as bigint)) i++;
  const p0 = points[i] as bigint;
  const p1 = points[i + 1] as bigint;
  const x0 = xs[i] as number;
  const x1 = xs[i + 1] as number;
  return x0 + ((x1 - x0) * Number(a - p0)) / Number(p1 - p0);
}

/** The entry label: right of the marker, or left of it when it would run past the right edge. */
function entryLabel(ex: number, y: number, text: string, right: number): string {
  const room = text.length * 6.6 + 8;
  const anchor = ex + room > right ? `x="${px(ex - 8)}" text-anchor="end"` : `x="${px(ex + 8)}"`;
  return `<text ${anchor} y="${y}" font-size="11" fill="#9b2c2c">${esc(text)}</text>`;
}

const px = (x: number) => (Math.round(x * 10) / 10).toString();

/**
 * The plan as an SVG memory map (a complete `<svg>` document, UTF-8 text).
 *
 * Each segment is `<g data-segment="NAME" data-mem="0x…" data-memsz="0x…">`
 * in the plan's order, with the values `plan.json` shows; each memory region
 * `<rect data-region="TYPE" data-start data-size>`, each excluded range
 * `<rect data-excluded data-start data-size>`, the entry point
 * `<g data-entry="0x…">`. The drawing is self-contained (inline colours, no
 * external fonts or styles), so it renders the same in a page and in a file.
 */
export function planSvg(plan: AnyPlan, options: PlanSvgOptions = {}): string {
  const width = Math.max(320, Math.floor(options.width ?? 960));
  const scale = options.scale ?? "linear";
  const regions = options.memory?.regions ?? [];
  const exclude = options.exclude ?? [];
  const margin = 16;
  const x0 = margin;
  const w = width - 2 * margin;

  const bounds: bigint[] = [];
  for (const r of regions) bounds.push(r.start, r.start + r.size);
  for (const s of plan.segments) bounds.push(s.mem, s.mem + s.memsz);
  // Excluded ranges only bend the axis where they touch memory that is drawn.
  const lo0 = bounds.length ? bounds.reduce((a, b) => (a < b ? a : b)) : 0n;
  const hi0 = bounds.length ? bounds.reduce((a, b) => (a > b ? a : b)) : 1n;
  const clip = (r: Range): Range | undefined => {
    const s = r.start > lo0 ? r.start : lo0;
    const e = r.start + r.size < hi0 ? r.start + r.size : hi0;
    return e > s ? { start: s, size: e - s } : undefined;
  };
  const shownExclude = exclude.map(clip).filter((r): r is Range => r !== undefined);
  for (const r of shownExclude) bounds.push(r.start, r.start + r.size);
  if (plan.entry.pc >= lo0 && plan.entry.pc <= hi0) bounds.push(plan.entry.pc);
  const axis = makeAxis(bounds, scale, x0, w);
  const lo = axis.points[0] as bigint;
  const hi = axis.points[axis.points.length - 1] as bigint;

  const titleY = 20;
  const mapY = 52;
  const mapH = 30;
  const segY = mapY + mapH + 10;
  const segH = 30;
  const labelTop = segY + segH + 18;
  const rowH = 30;
  const charW = 6.6;

  const out: string[] = [];
  const title = `${plan.arch} ${plan.kind} plan: ${plan.segments.length} segment(s), entry ${hex(plan.entry.pc)} (${scale} scale)`;

  // The map track.
  out.push(`<g data-track="memory">`);
  out.push(`<rect x="${px(x0)}" y="${mapY}" width="${px(w)}" height="${mapH}" fill="#ffffff" stroke="#4a5568" stroke-width="1"/>`);
  for (const r of regions) {
    const a = xOf(axis, r.start);
    const b = xOf(axis, r.start + r.size);
    out.push(
      `<rect data-region="${r.type}" data-start="${hex(r.start)}" data-size="${hex(r.size)}" x="${px(a)}" y="${mapY}" width="${px(Math.max(1, b - a))}" height="${mapH}" fill="${REGION_FILL[r.type]}"><title>${esc(`${r.type} ${hex(r.start)}–${hex(r.start + r.size)} (${formatSize(r.size)})`)}</title></rect>`,
    );
  }
  for (const r of exclude) {
    const c = clip(r);
    if (!c) continue;
    const a = xOf(axis, c.start);
    const b = xOf(axis, c.start + c.size);
    out.push(
      `<rect data-excluded="" data-start="${hex(r.start)}" data-size="${hex(r.size)}" x="${px(a)}" y="${mapY}" width="${px(Math.max(1, b - a))}" height="${mapH}" fill="url(#kimage-hatch)" stroke="#9b2c2c" stroke-width="1"><title>${esc(`excluded ${hex(r.start)}–${hex(r.start + r.size)} (${formatSize(r.size)})`)}</title></rect>`,
    );
  }
  out.push(`</g>`);

  // The segments track: rectangles at scale, labels in rows below them.
  out.push(`<rect x="${px(x0)}" y="${segY}" width="${px(w)}" height="${segH}" fill="#f7fafc" stroke="#a0aec0" stroke-width="1"/>`);
  const rowEnds: number[] = [];
  const placed = plan.segments.map((s, i) => {
    let a = xOf(axis, s.mem);
    let b = xOf(axis, s.mem + s.memsz);
    if (b - a < MIN_SEGMENT_PX) {
      const mid = (a + b) / 2;
      a = Math.max(x0, mid - MIN_SEGMENT_PX / 2);
      b = a + MIN_SEGMENT_PX;
    }
    return { s, i, a, b };
  });
  const labelRow = new Map<number, { row: number; lx: number }>();
  for (const p of [...placed].sort((u, v) => u.a - v.a)) {
    const text1 = p.s.name;
    const text2 = `${hex(p.s.mem)} · ${formatSize(p.s.memsz)}`;
    const lw = Math.max(text1.length, text2.length) * charW + 8;
    const lx = Math.min(Math.max(x0, (p.a + p.b) / 2 - lw / 2), x0 + w - lw);
    let row = rowEnds.findIndex((end) => end <= lx);
    if (row < 0) {
      row = rowEnds.length;
      rowEnds.push(0);
    }
    rowEnds[row] = lx + lw;
    labelRow.set(p.i, { row, lx });
  }
  for (const p of placed) {
    const { s } = p;
    const lab = labelRow.get(p.i) ?? { row: 0, lx: x0 };
    const ly = labelTop + lab.row * rowH;
    const mid = (p.a + p.b) / 2;
    const fill = segmentFill(s.name);
    out.push(
      `<g data-segment="${esc(s.name)}" data-mem="${hex(s.mem)}" data-memsz="${hex(s.memsz)}">` +
        `<title>${esc(`${s.name}: ${hex(s.mem)}–${hex(s.mem + s.memsz)}, ${formatSize(s.memsz)} in memory, ${s.bytes.length} bytes of data`)}</title>` +
        `<rect x="${px(p.a)}" y="${segY}" width="${px(p.b - p.a)}" height="${segH}" fill="${fill}"/>` +
        `<line x1="${px(mid)}" y1="${segY + segH}" x2="${px(mid)}" y2="${ly - 11}" stroke="${fill}" stroke-width="1"/>` +
        `<text x="${px(lab.lx + 4)}" y="${ly}" font-size="11" font-weight="bold" fill="#1a202c">${esc(s.name)}</text>` +
        `<text x="${px(lab.lx + 4)}" y="${ly + 13}" font-size="11" fill="#2d3748">${esc(`${hex(s.mem)} · ${formatSize(s.memsz)}`)}</text>` +
        `</g>`,
    );
  }

  // The entry point.
  const ex = xOf(axis, plan.entry.pc);
  out.push(
    `<g data-entry="${hex(plan.entry.pc)}"><title>${esc(`entry ${hex(plan.entry.pc)}`)}</title>` +
      `<line x1="${px(ex)}" y1="${mapY - 6}" x2="${px(ex)}" y2="${segY + segH}" stroke="#e53e3e" stroke-width="2"/>` +
      `<path d="M ${px(ex - 5)} ${mapY - 14} L ${px(ex + 5)} ${mapY - 14} L ${px(ex)} ${mapY - 6} Z" fill="#e53e3e"/>` +
      entryLabel(ex, mapY - 8, `entry ${hex(plan.entry.pc)}`, x0 + w) +
      `</g>`,
  );

  // Axis ends and legend.
  const axisY = labelTop + Math.max(1, rowEnds.length) * rowH + 4;
  out.push(`<text x="${px(x0)}" y="${axisY}" font-size="11" fill="#2d3748">${esc(hex(lo))}</text>`);
  out.push(`<text x="${px(x0 + w)}" y="${axisY}" font-size="11" fill="#2d3748" text-anchor="end">${esc(hex(hi))}</text>`);
  const legendY = axisY + 20;
  const types = [...new Set(regions.map((r) => r.type))];
  let lx = x0;
  const legend: string[] = [];
  for (const t of types) {
    legend.push(`<rect x="${px(lx)}" y="${legendY - 10}" width="12" height="12" fill="${REGION_FILL[t]}" stroke="#4a5568" stroke-width="0.5"/><text x="${px(lx + 16)}" y="${legendY}" font-size="11" fill="#1a202c">${t}</text>`);
    lx += 16 + t.length * charW + 14;
  }
  if (shownExclude.length > 0) {
    legend.push(`<rect x="${px(lx)}" y="${legendY - 10}" width="12" height="12" fill="url(#kimage-hatch)" stroke="#9b2c2c" stroke-width="1"/><text x="${px(lx + 16)}" y="${legendY}" font-size="11" fill="#1a202c">excluded</text>`);
  }
  out.push(`<g data-legend="">${legend.join("")}</g>`);
  const height = legendY + 12;

  return (
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" data-arch="${esc(plan.arch)}" data-kind="${plan.kind}" data-scale="${scale}">` +
    `<title>${esc(title)}</title>` +
    `<defs><pattern id="kimage-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff5f5" fill-opacity="0.6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9b2c2c" stroke-width="2"/></pattern></defs>` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>` +
    `<text x="${x0}" y="${titleY}" font-size="13" font-weight="bold" fill="#1a202c">${esc(title)}</text>` +
    out.join("") +
    `</svg>\n`
  );
}
