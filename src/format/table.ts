/**
 * Asking a probe table about bytes: which format accepts them
 * ({@link probeTable}), and what the hooks of the formats that accept them
 * say ({@link inspectionPrefix}, {@link trimPadding}). A layer that decodes a
 * payload uses these with the table it was given
 * (`ParseContext.formats`), so it needs no knowledge of the formats it
 * decodes into. A probe that throws counts as "no"; hooks, like probes,
 * must not throw.
 *
 * @module
 */

import type { Finding } from "../core/errors.js";
import type { FormatModule, PaddingTrim } from "./types.js";

/**
 * The first module of `formats` that accepts `bytes`, skipping ids in
 * `skip` (first match wins, as in the kernel's `kexec_image_probe_default`).
 * Never throws.
 */
export function probeTable(bytes: Uint8Array, formats: readonly FormatModule[], skip: ReadonlySet<string> = new Set()): FormatModule | null {
  for (const f of formats) {
    if (skip.has(f.id)) continue;
    try {
      if (f.probe(bytes)) return f;
    } catch {
      // A probe must never throw; treat a faulty one as "no".
    }
  }
  return null;
}

/** The optional hooks of {@link FormatModule}. */
export type FormatHook = "inspectionPrefix" | "inspectionRanges" | "trimPadding";

/**
 * The first module of `formats` that has `hook` and whose probe accepts
 * `bytes`, or null. Modules without the hook are passed over, so the answer
 * does not depend on where the table puts formats without it (an arm64
 * Image that is also a signed PE is still trimmed as a PE). Never throws.
 */
export function hookedFormat<K extends FormatHook>(bytes: Uint8Array, formats: readonly FormatModule[], hook: K): (FormatModule & Required<Pick<FormatModule, K>>) | null {
  for (const f of formats) {
    if (typeof f[hook] !== "function") continue;
    try {
      if (f.probe(bytes)) return f as FormatModule & Required<Pick<FormatModule, K>>;
    } catch {
      // A probe must never throw; treat a faulty one as "no".
    }
  }
  return null;
}

/**
 * How many leading bytes of `prefix`'s data inspection needs, according to
 * the {@link FormatModule.inspectionPrefix} hook of the format of `formats`
 * that accepts it (see {@link hookedFormat}); null when no such format
 * accepts it or the hook has no answer yet.
 */
export function inspectionPrefix(prefix: Uint8Array, formats: readonly FormatModule[]): number | null {
  const f = hookedFormat(prefix, formats, "inspectionPrefix");
  return f ? f.inspectionPrefix(prefix) : null;
}

/**
 * The byte ranges of decoded data inspection reads, according to the
 * {@link FormatModule.inspectionRanges} hook of the format of `formats` that
 * accepts the prefix (see {@link hookedFormat}); null when no format has the
 * hook or the prefix is too short to tell.
 */
export function inspectionRanges(prefix: Uint8Array, formats: readonly FormatModule[]): readonly (readonly [number, number])[] | null {
  const f = hookedFormat(prefix, formats, "inspectionRanges");
  return f ? f.inspectionRanges(prefix) : null;
}

/**
 * Where decoded `bytes` should be cut, according to the
 * {@link FormatModule.trimPadding} hook of the format of `formats` that
 * accepts them (see {@link hookedFormat}); null to keep them whole. The hook
 * may push to `findings`.
 */
export function trimPadding(bytes: Uint8Array, formats: readonly FormatModule[], findings: Finding[]): PaddingTrim | null {
  const f = hookedFormat(bytes, formats, "trimPadding");
  return f ? f.trimPadding(bytes, findings) : null;
}
