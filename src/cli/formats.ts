/**
 * The probe table the CLI walks: the library's {@link FORMATS}, with the
 * codec layers built with Node's codec providers (node:zlib's inflater for
 * gzip), so a gzip payload is inflated by zlib's C code instead of the
 * portable TypeScript inflater (about 2–3× faster, `src/node/zlib.ts`). The
 * library's own table stays portable; the layers and their JSON are the same.
 *
 * @module
 */

import { CODECS } from "../codecs/types.js";
import { createCompressedFormats } from "../formats/compressed/format.js";
import type { FormatModule } from "../format/types.js";
import { FORMATS } from "../inspect/registry.js";
import { nodeCodecProviders } from "../node/codecs.js";

const isCodec = (f: FormatModule): boolean => (CODECS as readonly string[]).includes(f.id);

/** {@link FORMATS} in the same order, with the codec modules using {@link nodeCodecProviders}. */
export const CLI_FORMATS: readonly FormatModule[] = [
  ...FORMATS.filter((f) => !isCodec(f)),
  ...createCompressedFormats({ providers: nodeCodecProviders, formats: () => CLI_FORMATS }),
];
