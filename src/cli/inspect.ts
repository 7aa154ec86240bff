/**
 * `kimage inspect FILE [--json] [--full]`: the kernel's identity, then its
 * layers, outermost first. By default compressed payloads are decoded only as
 * far as inspection needs (the headers, and an ELF's notes for the build-id);
 * `--full` decodes them completely (and searches the whole kernel for its
 * banner and embedded configuration).
 *
 * @module
 */

import { inspect } from "../inspect/registry.js";
import { kernelIdentity } from "../inspect/identity.js";
import { nodeCodecProviders } from "../node/codecs.js";
import { readInput } from "./io.js";
import { layerJson, renderTree } from "./render.js";
import type { Command } from "./types.js";

/** The inspect command. */
export const inspectCommand: Command = {
  name: "inspect",
  usage: "inspect FILE [--json] [--full]",
  summary: "identity and layers of a kernel image, outermost first",
  options: { json: { type: "boolean", default: false }, full: { type: "boolean", default: false } },
  positionals: ["FILE"],
  async run({ io, values, positionals }) {
    const file = positionals[0] as string;
    const bytes = await readInput(file);
    const full = Boolean(values.full);
    const result = await inspect(bytes, { decode: full ? "full" : "peek" });
    const id = await kernelIdentity(result, { depth: full ? "full" : "headers", bytes, providers: nodeCodecProviders });
    const identity = { version: id.version, buildId: id.buildId, config: id.config };
    if (values.json) {
      io.out(JSON.stringify({ file, identity, layers: result.layers.map(layerJson) }, null, 2));
    } else {
      const header = [
        `version:  ${id.versionString ?? id.version ?? "(not found)"}`,
        `build-id: ${id.buildId ?? "(none)"}`,
        `config:   ${id.config ? `${Object.keys(id.config).length} options (CONFIG_IKCONFIG)` : "(not embedded)"}`,
      ];
      io.out(renderTree(file, bytes.length, result.layers, header));
    }
    return 0;
  },
};
