/**
 * Rendering layers for people (a tree) and programs (flat JSON objects).
 *
 * @module
 */

import type { JsonValue, Layer } from "../format/types.js";

/** A layer as one flat JSON object: `format`, `offset`, `size`, `summary`, the fields, `findings`. */
export function layerJson(layer: Layer): { [key: string]: JsonValue } {
  return {
    format: layer.format,
    offset: layer.offset,
    size: layer.size,
    summary: layer.summary,
    ...layer.fields,
    findings: layer.findings.map((f) => ({ ...f })),
  };
}

type Scalar = string | number | boolean | null;

function isScalar(v: JsonValue): v is Scalar {
  return v === null || typeof v !== "object";
}

function scalar(v: JsonValue): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** An offset in the outermost input as `@0x…`; -1 (decoded data, or no single offset) as `(decoded)`. */
export function offsetText(offset: number): string {
  return offset >= 0 ? `@0x${offset.toString(16)}` : "(decoded)";
}

/** A readable tree of the layers and their fields. */
export function renderTree(file: string, size: number, layers: readonly Layer[], header: readonly string[] = []): string {
  const lines: string[] = [`${file} (${size} bytes)`, ...header.map((h) => `  ${h}`)];
  layers.forEach((layer, i) => {
    const last = i === layers.length - 1;
    const at = offsetText(layer.offset);
    lines.push(`${last ? "└─" : "├─"} [${i}] ${layer.format} ${at}: ${layer.summary}`);
    const pad = last ? "   " : "│  ";
    renderFields(layer.fields, pad, lines);
    for (const f of layer.findings) lines.push(`${pad}! ${f.severity} ${f.code} ${offsetText(f.offset)}: ${f.message}`);
  });
  return lines.join("\n");
}

/** Renders an object as tree lines below `pad`. */
export function renderFields(obj: { [key: string]: JsonValue }, pad: string, lines: string[]): void {
  const entries = Object.entries(obj);
  entries.forEach(([k, v], i) => {
    const last = i === entries.length - 1;
    const branch = last ? "└─ " : "├─ ";
    const next = pad + (last ? "   " : "│  ");
    if (isScalar(v)) {
      lines.push(`${pad}${branch}${k}: ${scalar(v)}`);
    } else if (Array.isArray(v)) {
      if (v.length === 0) {
        lines.push(`${pad}${branch}${k}: (none)`);
      } else if (v.every(isScalar)) {
        lines.push(`${pad}${branch}${k}: ${v.map(scalar).join(", ")}`);
      } else {
        lines.push(`${pad}${branch}${k} (${v.length})`);
        v.forEach((item, j) => {
          const lastItem = j === v.length - 1;
          if (isScalar(item) || Array.isArray(item)) {
            lines.push(`${next}${lastItem ? "└─ " : "├─ "}${JSON.stringify(item)}`);
          } else {
            const flat = ([, x]: [string, JsonValue]) => isScalar(x) || (Array.isArray(x) && x.every(isScalar));
            const one = Object.entries(item)
              .filter(flat)
              .map(([kk, x]) => `${kk}=${Array.isArray(x) ? x.map(scalar).join("|") : scalar(x)}`)
              .join(" ");
            lines.push(`${next}${lastItem ? "└─ " : "├─ "}${one}`);
            const nested = Object.fromEntries(Object.entries(item).filter((e) => !flat(e)));
            if (Object.keys(nested).length > 0) renderFields(nested, next + (lastItem ? "   " : "│  "), lines);
          }
        });
      }
    } else {
      lines.push(`${pad}${branch}${k}`);
      renderFields(v, next, lines);
    }
  });
}
