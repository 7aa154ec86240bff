/**
 * `kimage sign FILE --key KEY --cert CERT [--cert CHAIN …] -o OUT`: signs a
 * PE with Authenticode (or, with `--appended`, appends a kernel module
 * signature). Keys and certificates are PEM or DER files; a certificate
 * file may hold the signer and its chain (PEM blocks in that order).
 * `-o -` writes to standard output.
 *
 * @module
 */

import { signAppended } from "../signature/sign-appended.js";
import { signAuthenticode, type AuthenticodeSignAlgorithm, type AuthenticodeSignMode } from "../signature/sign.js";
import { nodeHashProvider } from "../node/hash.js";
import { readCertificateFiles } from "./certs.js";
import { outputName, readInput, writeOutput } from "./io.js";
import { UsageError, type Command } from "./types.js";

async function readKeyFile(path: string): Promise<Uint8Array | string> {
  const b = await readInput(path);
  const text = new TextDecoder("latin1").decode(b);
  return text.includes("-----BEGIN ") ? text : b;
}

/** The sign command. */
export const signCommand: Command = {
  name: "sign",
  usage: "sign FILE --key KEY --cert CERT [--cert CHAIN …] -o OUT [--alg sha256] [--mode replace|append|nest] [--appended]",
  summary: "sign a PE (Authenticode) or append a module signature",
  options: {
    key: { type: "string" },
    cert: { type: "string", multiple: true },
    output: { type: "string", short: "o" },
    alg: { type: "string", default: "sha256" },
    mode: { type: "string", default: "replace" },
    appended: { type: "boolean", default: false },
  },
  placeholders: { alg: "ALG" },
  optionHelp: {
    key: "the private key: PEM or DER (PKCS#8, PKCS#1 or SEC1), not encrypted",
    cert: "the signer's certificate first, then its chain: PEM (any number of certificates) or DER",
    output: "where to write the signed image; - is standard output",
    alg: "the digest algorithm: sha256, sha384, sha512 or sha1",
    mode: "replace the existing signatures, append one entry, or nest inside the first",
    appended: "append a kernel module signature instead of Authenticode",
  },
  notes: ["A FILE, KEY or CERT of - is standard input."],
  positionals: ["FILE"],
  async run({ io, values, positionals }) {
    if (!values.key) throw new UsageError("sign: --key is required");
    const certs = (values.cert as string[] | undefined) ?? [];
    if (certs.length === 0) throw new UsageError("sign: at least one --cert is required");
    if (!values.output) throw new UsageError("sign: -o OUT is required");
    const alg = String(values.alg);
    if (!["sha256", "sha384", "sha512", "sha1"].includes(alg)) throw new UsageError("--alg must be sha256, sha384, sha512 or sha1");
    const mode = String(values.mode);
    if (!["replace", "append", "nest"].includes(mode)) throw new UsageError("--mode must be replace, append or nest");
    const bytes = await readInput(positionals[0] as string);
    const key = await readKeyFile(String(values.key));
    const certData = await readCertificateFiles(certs);
    let out: Uint8Array;
    if (values.appended) {
      if (alg === "sha1") throw new UsageError("--appended supports sha256, sha384 and sha512");
      out = await signAppended(bytes, { key, cert: certData[0] as Uint8Array, alg: alg as "sha256" | "sha384" | "sha512" });
    } else {
      out = await signAuthenticode(bytes, { key, certs: certData, alg: alg as AuthenticodeSignAlgorithm, mode: mode as AuthenticodeSignMode, hash: nodeHashProvider });
    }
    await writeOutput(String(values.output), out, io);
    io.err(`kimage: wrote ${out.length} bytes to ${outputName(String(values.output))}`);
    return 0;
  },
};
