// Sign a PE image (Authenticode), as sbsign does, with a PKCS#8 key and a certificate.
// Run: npx tsx examples/sign.ts vmlinuz.efi key.pem cert.pem signed.efi
import { readFile, writeFile } from "node:fs/promises";
import { signAuthenticode, verifyAuthenticode } from "kimage";
import { readImage } from "kimage/node";

export async function signImage(bytes: Uint8Array, keyPem: string, certPem: string): Promise<Uint8Array> {
  // Key and certificates as PEM text or DER bytes; signs with WebCrypto (globalThis.crypto.subtle).
  const signed = await signAuthenticode(bytes, { key: keyPem, certs: [certPem], alg: "sha256" });
  // The new signature verifies against its own certificate.
  const { verdict } = await verifyAuthenticode(signed, { trust: [certPem], mode: "any" });
  if (verdict !== "valid") throw new Error(`fresh signature is ${verdict}`);
  return signed;
}

const [path, key, cert, out] = process.argv.slice(2);
if (path && key && cert && out && import.meta.filename === process.argv[1]) {
  await writeFile(out, await signImage(await readImage(path), await readFile(key, "utf8"), await readFile(cert, "utf8")));
}
