/**
 * The Node fast paths for the codec layer: node:zlib's raw inflater for gzip.
 *
 * @module
 */

import type { CodecProviders } from "../codecs/index.js";
import { nodeInflater } from "./zlib.js";

/** Codec providers for Node: pass as `providers` to `decompress` or `kernelIdentity`. */
export const nodeCodecProviders: CodecProviders = { inflater: nodeInflater };
