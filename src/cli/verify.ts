/**
 * `kimage verify FILE --cert PEM [--cert …] [--mode kernel|shim|any|all] [--json]`:
 * verifies the Authenticode signatures of a PE (or an appended module
 * signature) against the given trust anchors, in the kernel's order.
 * Exit 0 only when the verdict is `valid`; 1 for any other verdict.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { hasAppendedSignature, verifyAppendedSignature } from "../signature/appended.js";
import type { PolicyMode, VerifyOptions } from "../signature/policy.js";
import { verifyAuthenticode, type SignatureVerdict } from "../signature/verify.js";
import { nodeHashProvider } from "../node/hash.js";
import { readInput } from "./io.js";
import { toJson } from "./json.js";
import { UnreadableError, UsageError, type Command } from "./types.js";

const MODES: readonly PolicyMode[] = ["kernel", "shim", "any", "all"];

async function readCert(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new UnreadableError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function row(s: SignatureVerdict, depth = 0): string[] {
  const pad = "  ".repeat(depth);
  const lines = [
    `${pad}[${s.path}] ${s.verdict.toUpperCase()} (${s.reason})${s.counted ? "" : " (not counted in this mode)"}`,
    `${pad}    signer:     ${s.signer ?? "?"}`,
    `${pad}    issuer:     ${s.issuer ?? "?"}`,
    `${pad}    algorithms: image ${s.digestAlgorithm ?? "?"}, signature ${s.signatureAlgorithm ?? "?"}`,
    `${pad}    digest:     ${s.digestMatch === undefined ? "not computed" : s.digestMatch ? "matches the image" : "DOES NOT match the image"}${s.signedDigest ? ` (${s.signedDigest})` : ""}`,
    `${pad}    chain:      ${s.chain.length > 0 ? s.chain.join(" <- ") : "(none)"}${s.trustedBy ? `; trusted by ${s.trustedBy}` : ""}`,
    `${pad}    detail:     ${s.detail}`,
  ];
  for (const n of s.nested) lines.push(...row(n, depth + 1));
  return lines;
}

/** The verify command. */
export const verifyCommand: Command = {
  name: "verify",
  usage: "verify FILE --cert PEM [--cert PEM …] [--mode kernel|shim|any|all] [--json]",
  summary: "verify signatures against trust anchors (exit 0 only when valid)",
  options: {
    cert: { type: "string", multiple: true },
    mode: { type: "string", default: "kernel" },
    json: { type: "boolean", default: false },
    "allow-sha1": { type: "boolean", default: false },
    "no-strict": { type: "boolean", default: false },
    time: { type: "string" },
    "sbat-level": { type: "string" },
  },
  positionals: ["FILE"],
  async run({ io, values, positionals }) {
    const mode = String(values.mode) as PolicyMode;
    if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(", ")}`);
    const certs = (values.cert as string[] | undefined) ?? [];
    let time: Date | undefined;
    if (values.time !== undefined) {
      time = new Date(String(values.time));
      if (Number.isNaN(time.getTime())) throw new UsageError("--time must be an ISO 8601 date");
    }
    const bytes = await readInput(positionals[0] as string);
    const trust = await Promise.all(certs.map(readCert));
    const options: VerifyOptions = {
      trust,
      mode,
      strict: !values["no-strict"],
      allowSha1: Boolean(values["allow-sha1"]),
      hash: nodeHashProvider,
      ...(time ? { time } : {}),
      ...(values["sbat-level"] !== undefined ? { sbatLevel: new TextDecoder().decode(await readCert(String(values["sbat-level"]))) } : {}),
    };
    if (hasAppendedSignature(bytes)) {
      const v = await verifyAppendedSignature(bytes, options);
      if (values.json) io.out(toJson({ verdict: v.verdict, reason: v.reason, detail: v.detail, kind: "appended", signatures: v.signatures }));
      else io.out([`verdict: ${v.verdict} (${v.reason}): ${v.detail}`, ...v.signatures.map((s) => `[${s.index}] ${s.verdict} (${s.reason}): ${s.detail}`)].join("\n"));
      return v.verdict === "valid" ? 0 : 1;
    }
    const v = await verifyAuthenticode(bytes, options);
    if (values.json) {
      io.out(toJson({ verdict: v.verdict, reason: v.reason, detail: v.detail, mode: v.mode, strict: v.strict, signatures: v.signatures, findings: v.findings, sbat: v.sbat ?? null }));
    } else {
      io.out([`verdict: ${v.verdict} (${v.reason}) in ${v.mode} mode${v.strict ? "" : ", not strict"}: ${v.detail}`, ...v.signatures.flatMap((s) => row(s))].join("\n"));
    }
    return v.verdict === "valid" ? 0 : 1;
  },
};
