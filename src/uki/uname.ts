/**
 * The kernel release (`uname -r`) ukify writes into `.uname` when it is not
 * given, found the way ukify finds it (`Uname.scrape`): from the x86 boot
 * header's kernel_version string, else from the "Linux version" banner in
 * the kernel's bytes.
 *
 * Source: systemd `src/ukify/ukify.py` (257), class `Uname`: `scrape_x86`
 * ("f.seek(0x20E) [...] Pointer to kernel version string", read at 0x200 +
 * that, up to a NUL, matched against VERSION_PATTERN
 * `(?P<version>[a-z0-9._+-]+) \([^ )]+\) (?:#.*)`), then `scrape_generic`
 * (TEXT_PATTERN `Linux version (?P<version>\d\.\S+) \(`). ukify's
 * `scrape_elf` (readelf --notes) and its decompression of a wholly
 * compressed kernel are not reproduced: such kernels get no guess.
 *
 * @module
 */

const LATIN1 = new TextDecoder("latin1");

/** ukify's VERSION_PATTERN, anchored at the start as `re.match` is. */
const VERSION_PATTERN = /^([a-z0-9._+-]+) \([^ )]+\) (?:#.*)/;

/** The release in an x86 bzImage's kernel_version string (boot protocol 2.00+), or null. */
function scrapeX86(linux: Uint8Array): string | null {
  // "HdrS" at 0x202; kernel_version (u16) at 0x20e is an offset from 0x200.
  if (linux.length < 0x210 || LATIN1.decode(linux.subarray(0x202, 0x206)) !== "HdrS") return null;
  const at = 0x200 + ((linux[0x20e] as number) | ((linux[0x20f] as number) << 8));
  if (at >= linux.length) return null;
  const text = linux.subarray(at, Math.min(linux.length, at + 128));
  const nul = text.indexOf(0);
  const m = VERSION_PATTERN.exec(LATIN1.decode(nul >= 0 ? text.subarray(0, nul) : text));
  return m ? (m[1] as string) : null;
}

/** The release after the first "Linux version " banner in the bytes, or null (ukify's TEXT_PATTERN). */
function scrapeGeneric(linux: Uint8Array): string | null {
  const needle = [0x4c, 0x69, 0x6e, 0x75, 0x78, 0x20, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x20]; // "Linux version "
  const first = needle[0] as number;
  for (let i = linux.indexOf(first); i >= 0 && i + needle.length < linux.length; i = linux.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && linux[i + j] === needle[j]) j++;
    if (j < needle.length) continue;
    const m = /^(\d\.\S+) \(/.exec(LATIN1.decode(linux.subarray(i + needle.length, Math.min(linux.length, i + needle.length + 256))));
    if (m) return m[1] as string;
  }
  return null;
}

/**
 * The kernel release ukify would put in `.uname` for this kernel, or null
 * when it finds none (the UKI then has no `.uname`).
 */
export function guessUname(linux: Uint8Array): string | null {
  return scrapeX86(linux) ?? scrapeGeneric(linux);
}
