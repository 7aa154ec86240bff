// Bounded memory, as a user sees it: the peak RSS of `kimage inspect --full`
// on the Debian bookworm amd64 kernel (pe → bzimage → xz → elf; a 32 MiB xz
// dictionary, a 63 MiB vmlinux) must stay within the file's size + 64 MiB +
// the RSS of `node -e 0`, measured in the same run the way `npm run bench --
// memory` does it (getrusage's ru_maxrss of the child, reported by a
// preloaded exit hook; median of 3). Runs the built dist/cli.js (npm test
// builds first).
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { requireReal } from "../support/real.js";

const CLI = resolve("dist/cli.js");
const HOOK = "data:text/javascript,process.on('exit',()=>process.stderr.write('\\nkimage-maxrss-kb='+process.resourceUsage().maxRSS+'\\n'))";

/** The median peak RSS in bytes of `node ARGS…` over three runs, and the last run's stdout. */
function peakRss(args: string[]): { bytes: number; stdout: string } {
  const xs: number[] = [];
  let stdout = "";
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ["--import", HOOK, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const m = /kimage-maxrss-kb=(\d+)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    xs.push(Number(m?.[1]) * 1024);
    stdout = r.stdout;
  }
  xs.sort((a, b) => a - b);
  return { bytes: xs[1] as number, stdout };
}

const kernels = requireReal("Debian-signed bookworm amd64 kernel", (f) => f.kind === "kernel" && f.suite === "bookworm" && f.arch === "amd64" && f.signedPackage);

describe.skipIf(kernels.length === 0)("peak RSS of inspect --full", () => {
  const k = kernels[0];
  it(`${k?.path}: within file + 64 MiB + node -e 0`, { timeout: 300_000 }, () => {
    if (!k) return;
    const MiB = 1024 * 1024;
    const baseline = peakRss(["-e", "0"]).bytes;
    const full = peakRss([CLI, "inspect", "--full", "--json", k.abs]);
    const size = statSync(k.abs).size;
    const bound = size + 64 * MiB + baseline;
    // The answer is whole: the version and build-id are found, and the payload was decoded to its end.
    const out = JSON.parse(full.stdout) as { identity: { version: string | null; buildId: string | null }; layers: { format: string; complete?: boolean; checked?: string[] }[] };
    expect(out.identity.version).toBeTruthy();
    expect(out.identity.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(out.layers.map((l) => l.format)).toEqual(["pe", "bzimage", "xz", "elf"]);
    expect(out.layers[2]).toMatchObject({ complete: true, checked: ["crc32"] });
    console.log(`inspect --full ${k.path}: peak RSS ${(full.bytes / MiB).toFixed(1)} MiB; bound ${(bound / MiB).toFixed(1)} MiB (file ${(size / MiB).toFixed(1)} + 64 + node -e 0 ${(baseline / MiB).toFixed(1)})`);
    expect(full.bytes).toBeLessThanOrEqual(bound);
  });
});
