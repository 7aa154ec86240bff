/**
 * Standard input and output for the CLI: reading a whole stream (`-` as a
 * FILE) and writing bytes to standard output (`-o -`).
 *
 * @module
 */

/** Reads a readable stream to its end as one `Uint8Array`. */
export async function readStream(stream: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const c of stream) {
    const b = typeof c === "string" ? new TextEncoder().encode(c) : c;
    chunks.push(b);
    total += b.length;
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

let stdin: Promise<Uint8Array> | undefined;

/** The whole of standard input, read once (a second `-` gets the same bytes). */
export function readStdin(): Promise<Uint8Array> {
  stdin ??= readStream(process.stdin);
  return stdin;
}

/** Writes bytes to standard output; resolves once they are handed to the OS (or fails with its error). */
export function writeStdout(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, (e) => (e ? reject(e) : resolve()));
  });
}
