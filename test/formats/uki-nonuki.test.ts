// Non-UKI real files keep their layers: no kernel, EFI binary or stub that
// Debian ships is read as a UKI or UKI addon (so `inspect` output for them is
// unchanged by the uki layer), and the systemd-stubs themselves are not UKIs.
import { describe, expect, it } from "vitest";
import { probeUki } from "../../src/formats/pe/uki/format.js";
import { isPe, readBytes, requireReal } from "../support/real.js";

const files = requireReal("real PE files", (f) => (f.kind === "kernel" || f.kind === "efi" || f.kind === "stub") && isPe(f));

describe.runIf(files.length > 0)("real non-UKI PEs", () => {
  it("none probes as a UKI", () => {
    const ukis = files.filter((f) => probeUki(readBytes(f.abs))).map((f) => f.path);
    expect(ukis).toEqual([]);
    expect(files.some((f) => f.kind === "stub")).toBe(true);
  }, 120_000);
});
