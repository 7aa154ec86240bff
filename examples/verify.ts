// Verify the Authenticode signatures of a PE image against trust anchors.
// Run: npx tsx examples/verify.ts /boot/vmlinuz ca.pem
import { readFile } from "node:fs/promises";
import { verifyAuthenticode, type AuthenticodeVerdict } from "kimage";
import { readImage } from "kimage/node";

export async function verifyImage(bytes: Uint8Array, trust: ReadonlyArray<Uint8Array | string>): Promise<AuthenticodeVerdict> {
  // Kernel rules (what kexec's signature check accepts); "shim", "any" and "all" are the others.
  const result = await verifyAuthenticode(bytes, { trust, mode: "kernel" });
  for (const s of result.signatures) console.log(`signature: ${s.verdict} (${s.reason})`);
  return result;
}

const [path, ca] = process.argv.slice(2);
if (path && ca && import.meta.filename === process.argv[1]) {
  const { verdict, reason, detail } = await verifyImage(await readImage(path), [await readFile(ca, "utf8")]);
  console.log(`${verdict}: ${reason}, ${detail}`);
}
