#!/usr/bin/env node
/**
 * The `kimage` command line.
 *
 * ```
 * kimage inspect FILE [--json]
 * kimage digest FILE [--alg sha256] [--json]
 * ```
 *
 * Exit status: 0 on success, 1 when the input is invalid, 2 for usage errors
 * or an unreadable file. Errors go to stderr as one line: code, layer, offset.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isKimageError } from "./errors.js";
import { inspect } from "./formats/table.js";
import type { JsonValue, Layer } from "./formats/types.js";
import { isHashAlgorithm } from "./hash/types.js";
import { authenticodeDigest } from "./pecoff/authenticode.js";
import { nodeHashProvider } from "./node/hash.js";
import { readImage } from "./node/index.js";

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

const USAGE = `usage:
  kimage inspect FILE [--json]             layers of a kernel image, outermost first
  kimage digest FILE [--alg ALG] [--json]  Authenticode digest (sha1|sha256|sha384|sha512)
  kimage --help | --version

exit status: 0 success, 1 invalid input, 2 usage error or unreadable file`;

class UsageError extends Error {}

/**
 * Runs the CLI with `argv` (without the node and script paths) and returns
 * the exit status. Never throws for bad input or usage.
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: "boolean", default: false },
        alg: { type: "string", default: "sha256" },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    io.err(`kimage: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.version) {
    io.out(VERSION);
    return 0;
  }
  const [command, file, ...rest] = positionals;
  try {
    if (!command) throw new UsageError("missing command");
    if (command !== "inspect" && command !== "digest") throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    if (!file) throw new UsageError(`${command}: missing FILE`);
    if (rest.length > 0) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(rest[0])}`);
    if (!isHashAlgorithm(values.alg)) throw new UsageError(`--alg must be sha1, sha256, sha384 or sha512`);
  } catch (e) {
    io.err(`kimage: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }

  let bytes: Uint8Array;
  try {
    bytes = await readImage(file);
  } catch (e) {
    io.err(`kimage: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 2;
  }

  try {
    if (command === "inspect") {
      const { layers } = await inspect(bytes);
      if (values.json) {
        io.out(JSON.stringify({ file, layers: layers.map(layerJson) }, null, 2));
      } else {
        io.out(renderTree(file, bytes.length, layers));
      }
    } else {
      const alg = values.alg as Parameters<typeof authenticodeDigest>[1];
      const d = await authenticodeDigest(bytes, alg, { hash: nodeHashProvider });
      for (const f of d.layout.findings) if (f.severity === "warning") io.err(`kimage: warning: ${f.code} @ 0x${f.offset.toString(16)}: ${f.message}`);
      if (values.json) {
        const out: { [k: string]: JsonValue } = { alg: d.alg, digest: d.hex };
        if (d.layout.findings.length > 0) out.findings = d.layout.findings.map((f) => ({ ...f }));
        io.out(JSON.stringify(out));
      } else {
        io.out(d.hex);
      }
    }
    return 0;
  } catch (e) {
    if (isKimageError(e)) {
      io.err(`kimage: ${e.toLine()}`);
      return 1;
    }
    throw e;
  }
}

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

/** A readable tree of the layers and their fields. */
export function renderTree(file: string, size: number, layers: readonly Layer[]): string {
  const lines: string[] = [`${file} (${size} bytes)`];
  layers.forEach((layer, i) => {
    const last = i === layers.length - 1;
    const at = layer.offset >= 0 ? `@0x${layer.offset.toString(16)}` : "(decoded)";
    lines.push(`${last ? "└─" : "├─"} [${i}] ${layer.format} ${at}: ${layer.summary}`);
    const pad = last ? "   " : "│  ";
    renderFields(layer.fields, pad, lines);
    for (const f of layer.findings) lines.push(`${pad}! ${f.severity} ${f.code} @0x${f.offset.toString(16)}: ${f.message}`);
  });
  return lines.join("\n");
}

function scalar(v: JsonValue): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

type Scalar = string | number | boolean | null;

function isScalar(v: JsonValue): v is Scalar {
  return v === null || typeof v !== "object";
}

function renderFields(obj: { [key: string]: JsonValue }, pad: string, lines: string[]): void {
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
            const one = Object.entries(item)
              .filter(([, x]) => isScalar(x) || (Array.isArray(x) && x.every(isScalar)))
              .map(([kk, x]) => `${kk}=${Array.isArray(x) ? x.map(scalar).join("|") : scalar(x)}`)
              .join(" ");
            lines.push(`${next}${lastItem ? "└─ " : "├─ "}${one}`);
            const nested = Object.fromEntries(Object.entries(item).filter(([, x]) => !isScalar(x) && !(Array.isArray(x) && x.every(isScalar))));
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

/** The package version, kept in step with package.json by a test. */
export const VERSION = "0.1.0";

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s + "\n"),
  err: (s) => process.stderr.write(s + "\n"),
};

function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`kimage: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
