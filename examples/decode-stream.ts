// Streaming decompression: decode chunks as they arrive, with bounded memory.
// Run: npx tsx examples/decode-stream.ts vmlinux.xz
import { createReadStream } from "node:fs";
import { decodeStream, type Codec } from "kimage";

export async function countDecoded(codec: Codec, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<number> {
  let total = 0;
  const chunks = decodeStream(codec, source);
  for (;;) {
    const next = await chunks.next();
    if (next.done) {
      // The generator returns a summary: bytes consumed and the checks verified.
      console.log(`${next.value.codec}: consumed ${next.value.consumed}, checked ${next.value.checked.join(", ") || "nothing"}`);
      return total;
    }
    total += next.value.length;
  }
}

const path = process.argv[2];
if (path && import.meta.filename === process.argv[1]) {
  // A Node ReadStream yields Buffers, which are Uint8Arrays.
  console.log(`${await countDecoded("xz", createReadStream(path) as AsyncIterable<Uint8Array>)} bytes`);
}
