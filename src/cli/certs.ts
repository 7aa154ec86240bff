/**
 * Certificate files for `--cert`: PEM (any number of CERTIFICATE blocks,
 * text around them ignored) or one DER certificate. Anything else is
 * refused before any work, naming what the file looked like.
 *
 * @module
 */

import { parseCertificate } from "../cms/certificate.js";
import { isKimageError } from "../core/errors.js";
import { pemBlocks } from "../signature/trust.js";
import { readInput } from "./io.js";
import { UnreadableError } from "./types.js";

const CERT_LABELS = new Set(["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"]);

const latin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

/** What a file that is neither PEM nor DER looks like, in a few words. */
export function describeBytes(b: Uint8Array): string {
  if (b.length === 0) return "it is empty";
  const head = b.subarray(0, 512);
  const printable = head.filter((c) => c === 9 || c === 10 || c === 13 || (c >= 0x20 && c < 0x7f) || c >= 0xa0).length;
  if (printable / head.length > 0.95) {
    const first = latin1(head).split(/\r?\n/)[0] ?? "";
    return `it looks like text without a PEM BEGIN line (${JSON.stringify(first.length > 40 ? `${first.slice(0, 40)}…` : first)})`;
  }
  const hex = Array.from(b.subarray(0, 8), (c) => c.toString(16).padStart(2, "0")).join(" ");
  const kind = b[0] === 0x4d && b[1] === 0x5a ? "a PE/MZ executable" : b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46 ? "an ELF file" : "binary data";
  return `it looks like ${kind} (starting ${hex}), neither PEM nor DER`;
}

/**
 * The DER certificates of one `--cert` file (or `-`, standard input), each
 * checked to parse as X.509.
 *
 * @throws UnreadableError when the file cannot be read or holds no certificate.
 */
export async function readCertificateFile(path: string): Promise<Uint8Array[]> {
  const name = path === "-" ? "standard input" : path;
  const bytes = await readInput(path);
  const bad = (why: string) => new UnreadableError(`${name}: not a certificate (PEM or DER): ${why}`);
  const check = (der: Uint8Array, what: string): Uint8Array => {
    try {
      parseCertificate(der);
      return der;
    } catch (e) {
      if (!isKimageError(e)) throw e;
      throw bad(`${what} is not an X.509 certificate: ${e.code}: ${e.message}`);
    }
  };
  const text = latin1(bytes.subarray(0, Math.min(bytes.length, 16 << 20)));
  const pem = text.includes("-----BEGIN ");
  // DER starts with a SEQUENCE (0x30), which is also the character "0": a
  // PEM file may start with it too, so DER is tried first and PEM after.
  if (bytes[0] === 0x30) {
    try {
      parseCertificate(bytes);
      return [bytes];
    } catch (e) {
      if (!isKimageError(e)) throw e;
      if (!pem) throw bad(`it looks like DER (an ASN.1 SEQUENCE) but it is not an X.509 certificate: ${e.code}: ${e.message}`);
    }
  }
  if (!pem) throw bad(describeBytes(bytes));
  let blocks;
  try {
    blocks = pemBlocks(text);
  } catch (e) {
    if (!isKimageError(e)) throw e;
    throw bad(`it looks like PEM but ${e.message}`);
  }
  const certs = blocks.filter((b) => CERT_LABELS.has(b.label));
  if (certs.length === 0) throw bad(`it is PEM holding ${[...new Set(blocks.map((b) => b.label))].join(", ") || "no complete block"} but no CERTIFICATE block`);
  return certs.map((b, i) => check(b.der, `it is PEM, but its CERTIFICATE block ${i + 1} of ${certs.length}`));
}

/** The certificates of every `--cert` file, in order. */
export async function readCertificateFiles(paths: readonly string[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const p of paths) out.push(...(await readCertificateFile(p)));
  return out;
}
