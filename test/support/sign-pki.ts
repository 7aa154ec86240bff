/**
 * Throwaway PKI for the signing tests, made with `openssl` in a temporary
 * directory at test time (no private key is ever committed):
 *
 * - `root`: self-signed RSA 2048 CA ("kimage Test Root CA");
 * - `inter`: RSA 2048 intermediate CA issued by the root;
 * - `leaf`: RSA 2048 code-signing certificate issued by the root, with a
 *   serial number whose high bit is set (its INTEGER needs a 0x00 octet);
 * - `chainLeaf`: RSA 2048 code-signing certificate issued by the intermediate;
 * - `ec256`, `ec384`: ECDSA P-256 / P-384 code-signing certificates issued
 *   by the root;
 * - `other`: a second RSA leaf, for key/certificate mismatches.
 *
 * Key files are PKCS#8 PEM (`*.key`); `leaf` also has PKCS#1 (`leaf.rsa.key`)
 * and the EC keys SEC1 (`*.sec1.key`, with an "EC PARAMETERS" block first).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One certificate and its key. */
export interface Identity {
  /** Path of the certificate (PEM). */
  certPath: string;
  /** Path of the PKCS#8 PEM private key. */
  keyPath: string;
  /** Certificate PEM text. */
  certPem: string;
  /** Certificate DER. */
  certDer: Uint8Array;
  /** PKCS#8 PEM text. */
  keyPem: string;
}

/** The test PKI. */
export interface Pki {
  dir: string;
  root: Identity;
  inter: Identity;
  leaf: Identity;
  chainLeaf: Identity;
  ec256: Identity;
  ec384: Identity;
  other: Identity;
  /** Removes the directory. */
  cleanup(): void;
}

/** Runs a command, throwing with its stderr when it fails; returns stdout + stderr. */
export function sh(cmd: string, args: string[], opts: { cwd?: string; allowFail?: boolean } = {}): { out: string; status: number } {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${out}`);
  return { out, status: r.status ?? -1 };
}

/** True when `tool` can be started. */
export function toolExists(tool: string): boolean {
  return spawnSync(tool, ["--help"], { stdio: "ignore" }).error === undefined;
}

function bytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

const CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
const LEAF_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";

/** Creates the PKI (about 1 s: four RSA and two EC keys). */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "kimage-sign-"));
  const p = (f: string): string => join(dir, f);
  writeFileSync(p("ca.ext"), CA_EXT);
  writeFileSync(p("leaf.ext"), LEAF_EXT);
  const ossl = (...args: string[]): void => void sh("openssl", args, { cwd: dir });

  const genKey = (name: string, kind: "rsa" | "P-256" | "P-384"): void => {
    if (kind === "rsa") ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p(`${name}.key`));
    else {
      ossl("ecparam", "-genkey", "-name", kind === "P-256" ? "prime256v1" : "secp384r1", "-out", p(`${name}.sec1.key`));
      ossl("pkcs8", "-topk8", "-nocrypt", "-in", p(`${name}.sec1.key`), "-out", p(`${name}.key`));
    }
  };
  const identity = (name: string): Identity => ({
    certPath: p(`${name}.pem`),
    keyPath: p(`${name}.key`),
    certPem: readFileSync(p(`${name}.pem`), "utf8"),
    certDer: bytes(p(`${name}.der`)),
    keyPem: readFileSync(p(`${name}.key`), "utf8"),
  });
  const issue = (name: string, cn: string, issuer: string, ext: string, serial: string): Identity => {
    ossl("req", "-new", "-key", p(`${name}.key`), "-subj", `/CN=${cn}/O=kimage tests`, "-out", p(`${name}.csr`));
    ossl(
      "x509", "-req", "-in", p(`${name}.csr`), "-CA", p(`${issuer}.pem`), "-CAkey", p(`${issuer}.key`),
      "-set_serial", serial, "-days", "30", "-extfile", p(ext), "-out", p(`${name}.pem`),
    );
    ossl("x509", "-in", p(`${name}.pem`), "-outform", "DER", "-out", p(`${name}.der`));
    return identity(name);
  };

  genKey("root", "rsa");
  ossl(
    "req", "-x509", "-new", "-key", p("root.key"), "-subj", "/CN=kimage Test Root CA/O=kimage tests", "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", p("root.pem"),
  );
  ossl("x509", "-in", p("root.pem"), "-outform", "DER", "-out", p("root.der"));
  const root = identity("root");
  genKey("inter", "rsa");
  const inter = issue("inter", "kimage Test Intermediate CA", "root", "ca.ext", "0x1002");
  genKey("leaf", "rsa");
  const leaf = issue("leaf", "kimage Test Signer", "root", "leaf.ext", "0x80f1e2d3c4b5a69788");
  ossl("rsa", "-in", p("leaf.key"), "-traditional", "-out", p("leaf.rsa.key"));
  genKey("chainLeaf", "rsa");
  const chainLeaf = issue("chainLeaf", "kimage Chain Signer", "inter", "leaf.ext", "0x2001");
  genKey("ec256", "P-256");
  const ec256 = issue("ec256", "kimage EC256 Signer", "root", "leaf.ext", "0x3001");
  genKey("ec384", "P-384");
  const ec384 = issue("ec384", "kimage EC384 Signer", "root", "leaf.ext", "0x3002");
  genKey("other", "rsa");
  const other = issue("other", "kimage Other Signer", "root", "leaf.ext", "0x4001");
  return { dir, root, inter, leaf, chainLeaf, ec256, ec384, other, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Reads a file as bytes. */
export function readFileBytes(path: string): Uint8Array {
  return bytes(path);
}
