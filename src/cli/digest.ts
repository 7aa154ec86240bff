/**
 * `kimage digest FILE... [--alg ALG] [--json]`: the Authenticode digest.
 * With several FILEs, one `DIGEST  FILE` line each (as sha256sum prints).
 *
 * @module
 */

import type { JsonValue } from "../format/types.js";
import { isHashAlgorithm } from "../hash/types.js";
import { nodeHashProvider } from "../node/hash.js";
import { authenticodeDigest } from "../formats/pe/authenticode.js";
import { eachFile } from "./files.js";
import { readInput } from "./io.js";
import { UsageError, type Command } from "./types.js";

/** The digest command. */
export const digestCommand: Command = {
  name: "digest",
  usage: "digest FILE... [--alg sha1|sha256|sha384|sha512] [--json]",
  summary: "Authenticode digest of a PE image",
  options: { json: { type: "boolean", default: false }, alg: { type: "string", default: "sha256" } },
  optionHelp: {
    alg: "the hash algorithm",
    json: 'print {"alg", "digest"} (plus "findings" for a layout on which peers disagree); an array for several FILEs',
  },
  notes: ["With several FILEs each line is DIGEST, two spaces and the FILE, as sha256sum prints. A FILE of - is standard input."],
  positionals: ["FILE..."],
  run({ io, values, positionals }) {
    const alg = String(values.alg);
    if (!isHashAlgorithm(alg)) throw new UsageError("--alg must be sha1, sha256, sha384 or sha512");
    return eachFile(io, positionals, { json: Boolean(values.json), stringify: (d) => JSON.stringify(d), blankLine: false }, async (file, multi) => {
      const bytes = await readInput(file, io.progress);
      io.progress?.({ phase: "digest", done: 0 });
      const d = await authenticodeDigest(bytes, alg, { hash: nodeHashProvider });
      for (const f of d.layout.findings) {
        if (f.severity === "warning") io.err(`kimage: ${multi ? `${file}: ` : ""}warning: ${f.code}${f.offset >= 0 ? ` @ 0x${f.offset.toString(16)}` : ""}: ${f.message}`);
      }
      const out: { [k: string]: JsonValue } = { alg: d.alg, digest: d.hex };
      if (d.layout.findings.length > 0) out.findings = d.layout.findings.map((f) => ({ ...f }));
      return { status: 0, json: out, text: multi ? `${d.hex}  ${file}` : d.hex };
    });
  },
};
