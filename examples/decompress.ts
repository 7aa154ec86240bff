// One-shot decompression, bounded, with the integrity checks it verified.
// Run: npx tsx examples/decompress.ts
import { gzipSync } from "node:zlib";
import { decompress, detectCodec } from "kimage";
import { nodeCodecProviders } from "kimage/node";

export async function roundTrip(text: string): Promise<string> {
  const compressed = new Uint8Array(gzipSync(text));
  const codec = detectCodec(compressed); // "gzip", from the magic bytes
  if (!codec) throw new Error("not compressed");
  // nodeCodecProviders inflates with node:zlib; without it the pure-JS decoder runs.
  const result = await decompress(compressed, codec, { providers: nodeCodecProviders, maxOutput: 1 << 20 });
  console.log(`${result.codec}: ${result.consumed} → ${result.bytes.length} bytes, checked ${result.checked.join(", ")}`);
  return new TextDecoder().decode(result.bytes);
}

if (import.meta.filename === process.argv[1]) console.log(await roundTrip("hello, kernel\n"));
