/**
 * `kimage verify FILE... --cert CERT [--cert …] [--mode auto|kernel|shim|any|all] [--json]`:
 * verifies the Authenticode signatures of a PE (or an appended module
 * signature) against the given trust anchors. Exit 0 only when the verdict
 * is `valid` (for every FILE); 1 for any other verdict.
 *
 * `--mode auto` (the default) picks the rules from what the file is: kernel
 * rules for a Linux kernel (a PE that is an EFI stub in front of a bzImage,
 * arm64/RISC-V/LoongArch Image, zImage or zboot), firmware rules (`shim`
 * mode) for any other PE, a UKI included (firmware and shim verify it). The output says which rules applied.
 *
 * A unified kernel image (a PE with `.linux`) is verified as its envelope,
 * then each inner PE (`.linux` may be signed on its own) is verified too;
 * `--uki-parts` adds, per UKI section, whether its bytes lie within the
 * envelope's hashed ranges (and exits 1 when one does not).
 *
 * @module
 */

import { hasAppendedSignature, verifyAppendedSignature } from "../signature/appended.js";
import type { PolicyMode, VerifyOptions } from "../signature/policy.js";
import { verifyAuthenticode, type SignatureVerdict } from "../signature/verify.js";
import { probeUki } from "../formats/pe/uki/format.js";
import { verifyUki } from "../signature/uki.js";
import { nodeHashProvider } from "../node/hash.js";
import type { HashProvider } from "../hash/types.js";
import { readCertificateFiles } from "./certs.js";
import { eachFile } from "./files.js";
import { errnoText, readInput } from "./io.js";
import { readPeSparse, type SparsePe } from "./sparse-pe.js";
import { toJson } from "./json.js";
import { UnreadableError, UsageError, type Command } from "./types.js";
import { autoMode, MODE_RULES, verdictJson } from "./verify-mode.js";

const MODES: readonly (PolicyMode | "auto")[] = ["auto", "kernel", "shim", "any", "all"];

export { autoMode, MODE_RULES };

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
  usage: "verify FILE... --cert CERT [--cert CERT …] [--mode auto|kernel|shim|any|all] [--uki-parts] [--json]",
  summary: "verify signatures against trust anchors (exit 0 only when valid)",
  options: {
    cert: { type: "string", multiple: true },
    mode: { type: "string", default: "auto" },
    json: { type: "boolean", default: false },
    "allow-sha1": { type: "boolean", default: false },
    "no-strict": { type: "boolean", default: false },
    time: { type: "string" },
    "sbat-level": { type: "string" },
    "uki-parts": { type: "boolean", default: false },
  },
  placeholders: { time: "DATE", "sbat-level": "FILE" },
  optionHelp: {
    cert: "a trust anchor file: PEM (any number of certificates) or DER",
    mode: "auto: kernel rules for a Linux kernel, firmware rules (shim) for other EFI applications; kernel: the first signature only, as kexec; shim: any valid signature, none denied; any: nested ones too; all: every one",
    json: "print the verdicts as JSON (an array for several FILEs)",
    "allow-sha1": "accept SHA-1 digests and signatures",
    "no-strict": "accept what the kernel tolerates but Authenticode forbids",
    time: "check certificate validity at this ISO 8601 date",
    "sbat-level": "check the image's SBAT against this revocation level (shim's SbatLevel CSV)",
    "uki-parts": "for a UKI: state whether each part's bytes lie within the envelope's hashed ranges",
  },
  notes: ["The output names the rules that applied (JSON: \"mode\", plus \"modeRequested\" and \"modeReason\" when --mode auto chose it). A FILE or CERT of - is standard input."],
  positionals: ["FILE..."],
  async run({ io, values, positionals }) {
    const requested = String(values.mode) as PolicyMode | "auto";
    if (!MODES.includes(requested)) throw new UsageError(`--mode must be one of ${MODES.join(", ")}`);
    let time: Date | undefined;
    if (values.time !== undefined) {
      time = new Date(String(values.time));
      if (Number.isNaN(time.getTime())) throw new UsageError("--time must be an ISO 8601 date");
    }
    const trust = await readCertificateFiles((values.cert as string[] | undefined) ?? []);
    const sbatLevel = values["sbat-level"] !== undefined ? new TextDecoder().decode(await readInput(String(values["sbat-level"]))) : undefined;
    return eachFile(io, positionals, { json: Boolean(values.json), stringify: toJson, blankLine: true }, async (file, multi) => {
      // A large plain PE is read without its large sections, which only the digest reads (sparse-pe.ts).
      let sparse = file === "-" ? null : readSparse(file);
      if (sparse && (hasAppendedSignature(sparse.bytes) || probeUki(sparse.bytes))) {
        sparse.close();
        sparse = null;
      }
      try {
        return await verifyOne(file, multi, sparse?.bytes ?? (await readInput(file, io.progress)), sparse?.hash ?? nodeHashProvider);
      } finally {
        sparse?.close();
      }
    });

    async function verifyOne(file: string, multi: boolean, bytes: Uint8Array, hash: HashProvider) {
      io.progress?.({ phase: "verify", done: 0 });
      const auto = requested === "auto" ? autoMode(bytes) : undefined;
      const mode = auto?.mode ?? (requested as PolicyMode);
      const options: VerifyOptions = {
        trust,
        mode,
        strict: !values["no-strict"],
        allowSha1: Boolean(values["allow-sha1"]),
        hash,
        ...(time ? { time } : {}),
        ...(sbatLevel !== undefined ? { sbatLevel } : {}),
      };
      const title = multi ? [`File: ${file}`] : [];
      if (hasAppendedSignature(bytes)) {
        const v = await verifyAppendedSignature(bytes, options);
        return {
          status: v.verdict === "valid" ? 0 : 1,
          json: { verdict: v.verdict, reason: v.reason, detail: v.detail, kind: "appended", signatures: v.signatures },
          text: [
            ...title,
            `verdict: ${v.verdict} (${v.reason}): ${v.detail}`,
            "rules: an appended module signature (as the kernel checks modules; --mode does not apply)",
            ...v.signatures.map((s) => `[${s.index}] ${s.verdict} (${s.reason}): ${s.detail}`),
          ].join("\n"),
        };
      }
      if (probeUki(bytes)) {
        const u = await verifyUki(bytes, options);
        const v = u.envelope;
        const partsOk = u.parts.every((p) => p.covered);
        const wantParts = Boolean(values["uki-parts"]);
        const rules = `rules: ${MODE_RULES[v.mode]} [--mode ${v.mode}${auto ? `, chosen by --mode auto: ${auto.why}` : ""}]`;
        return {
          status: v.verdict === "valid" && (!wantParts || partsOk) ? 0 : 1,
          json: {
            ...verdictJson(v, auto),
            uki: {
              inner: u.inner.map((l) => ({ index: l.index, offset: l.offset, size: l.size, verdict: l.verdict.verdict, reason: l.verdict.reason, detail: l.verdict.detail, signatures: l.verdict.signatures })),
              findings: u.findings,
              ...(wantParts ? { parts: u.parts } : {}),
            },
          },
          text: [
            ...title,
            `verdict: ${v.verdict} (${v.reason}) in ${v.mode} mode${v.strict ? "" : ", not strict"}: ${v.detail}`,
            rules,
            "envelope (the UKI's own signature):",
            ...v.signatures.flatMap((s) => row(s, 1)),
            ...u.inner.map((l) => `inner PE at 0x${l.offset.toString(16)} (layer ${l.index}): ${l.verdict.verdict} (${l.verdict.reason}): ${l.verdict.detail}`),
            ...u.findings.map((f) => `finding ${f.code}: ${f.message}`),
            ...(wantParts ? u.parts.map((p) => `part ${p.name} (section ${p.index}${p.profile === null ? "" : `, profile ${p.profile}`}): ${p.covered ? "covered" : "NOT covered"} (${p.reason}), ${p.fileSize} byte(s) at 0x${p.offset.toString(16)}${p.zeroFill ? ` + ${p.zeroFill} zero(s)` : ""}`) : []),
          ].join("\n"),
        };
      }
      const v = await verifyAuthenticode(bytes, options);
      const rules = `rules: ${MODE_RULES[v.mode]} [--mode ${v.mode}${auto ? `, chosen by --mode auto: ${auto.why}` : ""}]`;
      return {
        status: v.verdict === "valid" ? 0 : 1,
        json: verdictJson(v, auto),
        text: [...title, `verdict: ${v.verdict} (${v.reason}) in ${v.mode} mode${v.strict ? "" : ", not strict"}: ${v.detail}`, rules, ...v.signatures.flatMap((s) => row(s))].join("\n"),
      };
    }
  },
};

/** {@link readPeSparse}, with an unreadable file reported as the CLI reports it (exit status 2). */
function readSparse(path: string): SparsePe | null {
  try {
    return readPeSparse(path);
  } catch (e) {
    throw new UnreadableError(`cannot read ${path}: ${errnoText(e)}`);
  }
}
