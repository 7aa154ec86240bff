/**
 * `kimage digest FILE [--alg ALG] [--json]`: the Authenticode digest.
 *
 * @module
 */

import type { JsonValue } from "../format/types.js";
import { isHashAlgorithm } from "../hash/types.js";
import { nodeHashProvider } from "../node/hash.js";
import { authenticodeDigest } from "../formats/pe/authenticode.js";
import { readInput } from "./io.js";
import { UsageError, type Command } from "./types.js";

/** The digest command. */
export const digestCommand: Command = {
  name: "digest",
  usage: "digest FILE [--alg sha1|sha256|sha384|sha512] [--json]",
  summary: "Authenticode digest of a PE image",
  options: { json: { type: "boolean", default: false }, alg: { type: "string", default: "sha256" } },
  positionals: ["FILE"],
  async run({ io, values, positionals }) {
    const alg = String(values.alg);
    if (!isHashAlgorithm(alg)) throw new UsageError("--alg must be sha1, sha256, sha384 or sha512");
    const bytes = await readInput(positionals[0] as string);
    const d = await authenticodeDigest(bytes, alg, { hash: nodeHashProvider });
    for (const f of d.layout.findings) {
      if (f.severity === "warning") io.err(`kimage: warning: ${f.code} @ 0x${f.offset.toString(16)}: ${f.message}`);
    }
    if (values.json) {
      const out: { [k: string]: JsonValue } = { alg: d.alg, digest: d.hex };
      if (d.layout.findings.length > 0) out.findings = d.layout.findings.map((f) => ({ ...f }));
      io.out(JSON.stringify(out));
    } else {
      io.out(d.hex);
    }
    return 0;
  },
};
