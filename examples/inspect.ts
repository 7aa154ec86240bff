// Inspect a kernel image: the layer chain and the kernel's identity.
// Run: npx tsx examples/inspect.ts /boot/vmlinuz
import { inspect, kernelIdentity } from "kimage";
import { readImage } from "kimage/node";

export async function describeKernel(bytes: Uint8Array): Promise<string> {
  // Peel the layers: PE → bzImage → xz → ELF, for example.
  const result = await inspect(bytes);
  const chain = result.layers.map((layer) => layer.format).join(" → ");
  // The version, banner and build-id, read from the innermost image.
  const id = await kernelIdentity(result);
  return `${chain}: ${id.version ?? "unknown version"}${id.buildId ? ` (build-id ${id.buildId})` : ""}`;
}

const path = process.argv[2];
if (path && import.meta.filename === process.argv[1]) console.log(await describeKernel(await readImage(path)));
