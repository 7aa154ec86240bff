// The Authenticode digest of a PE image, as pesign and the kernel compute it.
// Run: npx tsx examples/authenticode-digest.ts /boot/vmlinuz
import { authenticodeDigest } from "kimage";
import { nodeHashProvider, readImage } from "kimage/node";

export async function peDigest(bytes: Uint8Array): Promise<string> {
  // sha256 by default; nodeHashProvider hashes with node:crypto (WebCrypto works too).
  const { hex, layout } = await authenticodeDigest(bytes, "sha256", { hash: nodeHashProvider });
  return `${hex} (${layout.ranges.length} ranges hashed)`;
}

const path = process.argv[2];
if (path && import.meta.filename === process.argv[1]) console.log(await peDigest(await readImage(path)));
