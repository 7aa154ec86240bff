// The CLI's progress bar (issue 12, item 4): one line on standard error,
// drawn only when standard error is a terminal, the work has taken longer
// than 0.3 s, NO_COLOR is unset and -q/--quiet was not given; erased when
// done. The terminal is a pseudo-terminal from util-linux `script`; the
// pipe is spawnSync's. KIMAGE_PROGRESS_DELAY_MS (tests only) lowers the
// 0.3 s so that quick work on a small fixture draws it too.
// Runs the built dist/cli.js (npm test builds first).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli.js";
import { createProgressBar, formatBytes, progressEnabled, renderProgress, PROGRESS_DELAY_MS } from "../../src/cli/progress.js";
import { commandHelp } from "../../src/cli/usage.js";
import { requireReal } from "../support/real.js";

const SMALL = "fixtures/synthetic/pe32plus-minimal.efi";
/** A bar drawing: carriage return, "kimage: PHASE …", erase to the end of the line. */
// eslint-disable-next-line no-control-regex
const BAR = /\rkimage: [^\r\n]*\x1b\[K/;
const ERASE = "\r\x1b[K";

function fakeStream(isTTY = true) {
  const writes: string[] = [];
  return { stream: { isTTY, columns: 60, write: (s: string) => writes.push(s) }, writes };
}

describe("progress bar: the pieces", () => {
  it("is enabled only on a terminal, without NO_COLOR (unless empty), TERM=dumb or --quiet", () => {
    expect(progressEnabled({ isTTY: true }, {}, false)).toBe(true);
    expect(progressEnabled({ isTTY: true }, { NO_COLOR: "" }, false)).toBe(true);
    expect(progressEnabled({ isTTY: false }, {}, false)).toBe(false);
    expect(progressEnabled({}, {}, false)).toBe(false);
    expect(progressEnabled({ isTTY: true }, { NO_COLOR: "1" }, false)).toBe(false);
    expect(progressEnabled({ isTTY: true }, { TERM: "dumb" }, false)).toBe(false);
    expect(progressEnabled({ isTTY: true }, {}, true)).toBe(false);
  });

  it("renders a bar with a percentage for a known total, a spinner and a byte count without, within the width", () => {
    expect(renderProgress({ phase: "decode xz", done: 13_500_000, total: 27_000_000 }, 80)).toBe(`kimage: decode xz [${"#".repeat(15)}${"-".repeat(15)}]  50% 13.5 MB/27.0 MB`);
    expect(renderProgress({ phase: "decode zstd", done: 2_500_000 }, 80, 1)).toBe("kimage: decode zstd / 2.5 MB");
    expect(renderProgress({ phase: "inspect", done: 0 }, 80, 0)).toBe("kimage: inspect |");
    for (const w of [10, 20, 40, 80, 200]) {
      expect(renderProgress({ phase: "decode lzma", done: 1, total: 3 }, w).length).toBeLessThan(Math.max(w, 11));
    }
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(48_700_001)).toBe("48.7 MB");
  });

  it("draws nothing before the delay, then draws on events (throttled) and erases its line on clear and end", () => {
    let t = 0;
    const { stream, writes } = fakeStream();
    const bar = createProgressBar({ stream, env: {}, quiet: false, now: () => t, timer: false });
    expect(bar.enabled).toBe(true);
    bar.update({ phase: "read", done: 10, total: 10 });
    t = PROGRESS_DELAY_MS - 1;
    bar.update({ phase: "decode xz", done: 1, total: 100 });
    expect(writes).toEqual([]);
    t = PROGRESS_DELAY_MS + 1;
    bar.update({ phase: "decode xz", done: 50, total: 100 });
    expect(writes).toHaveLength(1);
    expect(writes[0]).toBe(`\rkimage: decode xz [${"#".repeat(12)}${"-".repeat(11)}]  50% 50 B/100 B\x1b[K`); // 60 columns
    t += 1;
    bar.update({ phase: "decode xz", done: 51, total: 100 }); // throttled: same phase, 1 ms later
    expect(writes).toHaveLength(1);
    bar.update({ phase: "identity", done: 0 }); // a new phase draws at once
    expect(writes).toHaveLength(2);
    bar.clear();
    expect(writes.at(-1)).toBe(ERASE);
    bar.clear(); // nothing showing: nothing written
    expect(writes).toHaveLength(3);
    bar.update({ phase: "identity", done: 0 });
    bar.end();
    expect(writes.slice(3)).toEqual([expect.stringMatching(BAR), ERASE]);
    bar.update({ phase: "later", done: 1 });
    expect(writes).toHaveLength(5);
  });

  it("writes nothing at all when not enabled", () => {
    for (const [isTTY, env, quiet] of [
      [false, {}, false],
      [true, { NO_COLOR: "1" }, false],
      [true, {}, true],
    ] as const) {
      const { stream, writes } = fakeStream(isTTY);
      const bar = createProgressBar({ stream, env, quiet, now: () => 1e9, delayMs: 0, timer: false });
      bar.update({ phase: "decode", done: 1, total: 2 });
      bar.end();
      expect(writes).toEqual([]);
    }
  });

  it("every command's help lists -q, --quiet", () => {
    for (const c of COMMANDS) expect(commandHelp(c), c.name).toMatch(/^ {2}-q, --quiet {2,}no progress bar/m);
  });
});

const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI with standard output and error on a pseudo-terminal; returns what the terminal got. */
function onTerminal(args: string[], env: Record<string, string> = {}): { code: number | null; out: string } {
  const cmd = ["node", "dist/cli.js", ...args].map(sh).join(" ");
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
    encoding: "utf8",
    input: "",
    maxBuffer: 64 << 20,
    env: { ...process.env, NO_COLOR: "", TERM: "xterm", ...env },
  });
  return { code: r.status, out: r.stdout };
}

/** The bar was drawn, and erased before the command's own output and at the end. */
function expectDrawnAndErased(out: string): void {
  expect(out).toMatch(BAR);
  const lastBar = out.lastIndexOf("\rkimage: ");
  expect(out.indexOf(ERASE, lastBar), JSON.stringify(out.slice(0, 400))).toBeGreaterThan(lastBar);
  // No output line starts on a bar's line: each draw is followed by an erase before a newline.
  for (const line of out.split("\n")) {
    const i = line.lastIndexOf("\rkimage: ");
    if (i >= 0 && BAR.test(line.slice(i))) expect(line.indexOf(ERASE, i), JSON.stringify(line)).toBeGreaterThan(i);
  }
}

describe.skipIf(!hasScript)("progress bar on a pseudo-terminal (util-linux script)", () => {
  it("shows on a terminal once the work passes the delay, and is erased before the output", () => {
    const r = onTerminal(["inspect", SMALL], { KIMAGE_PROGRESS_DELAY_MS: "0" });
    expect(r.code).toBe(0);
    expectDrawnAndErased(r.out);
    expect(r.out).toContain("layers:");
  });

  it("does not show before the delay has passed (quick work)", () => {
    // A delay far above the command's time, so that a loaded machine cannot make it flaky.
    const r = onTerminal(["inspect", SMALL], { KIMAGE_PROGRESS_DELAY_MS: "20000" });
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(BAR);
    expect(r.out).toContain("layers:");
  });

  it("never shows with NO_COLOR, -q or --quiet", () => {
    for (const [args, env] of [
      [["inspect", SMALL], { NO_COLOR: "1" }],
      [["inspect", "-q", SMALL], {}],
      [["inspect", "--quiet", SMALL], {}],
      [["digest", "--quiet", SMALL], {}],
    ] as const) {
      const r = onTerminal([...args], { KIMAGE_PROGRESS_DELAY_MS: "0", ...env });
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.out, args.join(" ")).not.toMatch(BAR);
      expect(r.out).not.toContain("\x1b[K");
    }
  });

  it("errors are printed on a clean line", () => {
    const r = onTerminal(["inspect", "fixtures/no-such-file"], { KIMAGE_PROGRESS_DELAY_MS: "0" });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^kimage: cannot read fixtures\/no-such-file: ENOENT/m);
  });
});

describe("progress bar in a pipe", () => {
  it("never shows when standard error is not a terminal, even past the delay", () => {
    const r = spawnSync("node", ["dist/cli.js", "inspect", SMALL], { encoding: "utf8", env: { ...process.env, KIMAGE_PROGRESS_DELAY_MS: "0", NO_COLOR: "" } });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).not.toContain("\r");
  });
});

const bookworm = requireReal("the bookworm amd64 kernel", (f) => f.suite === "bookworm" && f.arch === "amd64" && f.kind === "kernel" && f.signedPackage);

describe.skipIf(!hasScript || bookworm.length === 0)("progress bar on slow real work", () => {
  it("inspect --full of the bookworm amd64 kernel (a 66 MB xz payload) shows it on a terminal, not in a pipe", { timeout: 180_000 }, () => {
    const kernel = bookworm[0]?.abs ?? "";
    const tty = onTerminal(["inspect", "--full", kernel]);
    expect(tty.code).toBe(0);
    expectDrawnAndErased(tty.out);
    expect(tty.out).toContain("version:");
    const pipe = spawnSync("node", ["dist/cli.js", "inspect", "--full", kernel], { encoding: "utf8", env: { ...process.env, NO_COLOR: "" } });
    expect(pipe.status).toBe(0);
    expect(pipe.stderr).toBe("");
  });
});
