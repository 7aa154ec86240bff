/**
 * Finding a kernel's identity in its bytes: the `linux_banner` string
 * ("Linux version %s (%s@%s) (%s) %s\n", init/version-timestamp.c) and the
 * in-kernel configuration (kernel/configs.c: `.ascii "IKCFG_ST"`, the gzip
 * of .config, `.ascii "IKCFG_ED"`; scripts/extract-ikconfig finds it the
 * same way). Every search is bounded.
 *
 * @module
 */

const BANNER = [0x4c, 0x69, 0x6e, 0x75, 0x78, 0x20, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x20]; // "Linux version "
const IKCFG_ST = [0x49, 0x4b, 0x43, 0x46, 0x47, 0x5f, 0x53, 0x54]; // "IKCFG_ST"
const IKCFG_ED = [0x49, 0x4b, 0x43, 0x46, 0x47, 0x5f, 0x45, 0x44]; // "IKCFG_ED"

/** Longest banner line read. */
const BANNER_MAX = 1024;

/** Offset of the first occurrence of `needle` in `hay[from, to)`, or -1. */
export function indexOfBytes(hay: Uint8Array, needle: readonly number[], from = 0, to = hay.length): number {
  const first = needle[0];
  const n = needle.length;
  if (first === undefined) return from;
  const last = Math.min(to, hay.length) - n;
  for (let i = Math.max(0, from); i <= last; i++) {
    // The native indexOf finds candidate first bytes quickly.
    i = hay.indexOf(first, i);
    if (i < 0 || i > last) return -1;
    let j = 1;
    while (j < n && hay[i + j] === needle[j]) j++;
    if (j === n) return i;
  }
  return -1;
}

/** A banner found by {@link findBanner}. */
export interface Banner {
  /** The banner line without its newline, e.g. "Linux version 6.1.0-50-amd64 (debian-kernel@…) … (2026-07-02)". */
  text: string;
  /** The release (`UTS_RELEASE`, the first word after "Linux version "). */
  release: string;
  /** Offset of the banner in the searched bytes. */
  offset: number;
}

/**
 * The first `linux_banner` in `bytes[0, maxScan)`: "Linux version " followed
 * by a printable release and " (" — which skips format strings such as
 * "Linux version %s". Never throws.
 */
export function findBanner(bytes: Uint8Array, maxScan = bytes.length): Banner | null {
  const to = Math.min(bytes.length, maxScan);
  let at = 0;
  for (let guard = 0; guard < 1 << 16; guard++) {
    const i = indexOfBytes(bytes, BANNER, at, to);
    if (i < 0) return null;
    let s = "";
    const end = Math.min(bytes.length, i + BANNER_MAX);
    let j = i;
    for (; j < end; j++) {
      const c = bytes[j] as number;
      if (c === 0 || c === 0x0a) break;
      if (c < 0x20 || c > 0x7e) {
        s = "";
        break;
      }
      s += String.fromCharCode(c);
    }
    const m = /^Linux version ([!-~]+) \(/.exec(s);
    if (m && m[1] && !m[1].includes("%")) return { text: s, release: m[1], offset: i };
    at = i + 1;
  }
  return null;
}

/** Where the IKCONFIG gzip stream lies: `[start, end)` between "IKCFG_ST" and "IKCFG_ED". */
export function findIkconfig(bytes: Uint8Array, maxScan = bytes.length): { start: number; end: number } | null {
  const to = Math.min(bytes.length, maxScan);
  let at = 0;
  for (let guard = 0; guard < 1 << 16; guard++) {
    const st = indexOfBytes(bytes, IKCFG_ST, at, to);
    if (st < 0) return null;
    const start = st + IKCFG_ST.length;
    // The stream must be gzip (kernel/Makefile: config_data.gz is `gzip -n -f -9`).
    if (bytes[start] === 0x1f && bytes[start + 1] === 0x8b) {
      const ed = indexOfBytes(bytes, IKCFG_ED, start, bytes.length);
      if (ed > start) return { start, end: ed };
    }
    at = st + 1;
  }
  return null;
}

/**
 * Parses a .config into `{ CONFIG_X: value }`: `CONFIG_X=y` gives "y",
 * `CONFIG_X="str"` keeps the quotes as written, and `# CONFIG_X is not set`
 * lines are left out (the option is unset).
 */
export function parseKconfig(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m && m[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}
