/**
 * The messages between the page (app.ts) and its worker (worker.ts). Every
 * value is structured-cloneable; what the worker computes is the JSON the
 * CLI prints (`inspect --json`, `verify --json`, `plan --json`), so the page
 * and the CLI show the same facts.
 *
 * @module
 */

/** A trust anchor: a name for people and its DER bytes. */
export interface Anchor {
  name: string;
  der: Uint8Array;
  /** Where it came from (package, version, path), for built-in anchors. */
  source?: string;
}

/** What the page asks. */
export type Request =
  | { id: number; type: "open"; file: Blob; name: string; full: boolean }
  | { id: number; type: "verify"; anchors: Anchor[]; mode: string }
  | { id: number; type: "plan"; arch: string; memory: string; initrdSize: number; cmdline: string; seed: string; dtb: Uint8Array | null; scale: "linear" | "log" }
  | { id: number; type: "layer"; index: number }
  | { id: number; type: "segment"; index: number }
  | { id: number; type: "hex"; index: number; start: number; length: number };

/** What the worker answers: a result, an error (a KimageError's code, layer and offset when it is one), or progress. */
export type Response =
  | { id: number; type: "result"; result: unknown }
  | { id: number; type: "error"; error: { code: string; message: string; layer?: string; offset?: number } }
  | { type: "progress"; phase: string; done: number; total?: number | undefined };

/** What "open" returns. */
export interface OpenResult {
  name: string;
  size: number;
  identity: { version: string | null; buildId: string | null; config: Record<string, string> | null; versionString: string | null };
  /** `inspect --json`'s `layers`: one flat JSON object per layer. */
  layers: Record<string, unknown>[];
  chain: string;
  arch: string | null;
  pageSize: string;
  signed: string;
  /** The Authenticode SHA-256 digest (`kimage digest`), or null for a file that is not a PE. */
  digest: string | null;
  digestError: string | null;
  /** The plan architecture the image boots as (a row of the plan table), or null. */
  planArch: string | null;
  planArches: string[];
  /** How long decoding took in the worker (ms): reading, inspect, identity. */
  timings: { read: number; inspect: number; identity: number };
}

/** What "plan" returns. */
export interface PlanResult {
  json: Record<string, unknown>;
  svg: string;
  /** plan.json as `--out` writes it (segments named seg-N.bin). */
  planFile: string;
  segments: { name: string; file: string; bytes: number }[];
}

/** What "hex" returns: bytes of a layer's input from `start`, and where the layer sits. */
export interface HexResult {
  /** The layer's offset in the file (-1: decoded data). */
  offset: number;
  /** Where `bytes` start in the layer's input. */
  start: number;
  bytes: Uint8Array;
  size: number;
}
