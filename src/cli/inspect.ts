/**
 * `kimage inspect FILE... [-v] [--json] [--full]`: the kernel's identity,
 * then its layers, outermost first. By default a concise summary (version,
 * the layer chain, architecture, signatures, build-id, sizes); `-v` prints
 * every field of every layer as a tree, `--json` as JSON.
 *
 * By default compressed payloads are decoded only as far as inspection needs
 * (the headers, and an ELF's notes for the build-id); `--full` decodes them
 * completely (and searches the whole kernel for its banner and embedded
 * configuration).
 *
 * @module
 */

import { inspect, type InspectOptions } from "../inspect/registry.js";
import { kernelIdentity, type IdentityOptions } from "../inspect/identity.js";
import { nodeCodecProviders } from "../node/codecs.js";
import { hasAppendedSignature } from "../signature/appended.js";
import { eachFile } from "./files.js";
import { readInput } from "./io.js";
import { layerJson, renderTree } from "./render.js";
import { renderSummary } from "./summary.js";
import type { WithProgress } from "./progress.js";
import type { Command } from "./types.js";

/** The inspect command. */
export const inspectCommand: Command = {
  name: "inspect",
  usage: "inspect FILE... [-v] [--json] [--full]",
  summary: "identity and layers of a kernel image, outermost first",
  options: {
    verbose: { type: "boolean", short: "v", default: false },
    json: { type: "boolean", default: false },
    full: { type: "boolean", default: false },
  },
  optionHelp: {
    verbose: "every field of every layer, as a tree (the default is a summary)",
    json: "every field of every layer, as JSON (an array for several FILEs)",
    full: "decode compressed payloads to their end (streamed, keeping only what inspection reads): slower, but checks every size and checksum and finds the version banner and an embedded config (CONFIG_IKCONFIG)",
  },
  notes: [
    "The summary shows the version, the layers as one chain, the architecture, the signatures the image carries (kimage verify checks them), the build-id and the sizes. A FILE of - is standard input.",
  ],
  positionals: ["FILE..."],
  run({ io, values, positionals }) {
    const full = Boolean(values.full);
    return eachFile(io, positionals, { json: Boolean(values.json), stringify: (d) => JSON.stringify(d, null, 2), blankLine: true }, async (file) => {
      const progress = io.progress;
      const bytes = await readInput(file, progress);
      // onProgress is passed through a widened options object: it compiles
      // whether or not the library's option types declare it yet.
      const inspectOptions: InspectOptions & WithProgress = { decode: full ? "scan" : "peek", ...(progress ? { onProgress: progress } : {}) };
      progress?.({ phase: full ? "inspect --full" : "inspect", done: 0 });
      const result = await inspect(bytes, inspectOptions);
      const identityOptions: IdentityOptions & WithProgress = { depth: full ? "full" : "headers", bytes, providers: nodeCodecProviders, ...(progress ? { onProgress: progress } : {}) };
      progress?.({ phase: "identity", done: 0 });
      const id = await kernelIdentity(result, identityOptions);
      const identity = { version: id.version, buildId: id.buildId, config: id.config };
      if (values.json) return { status: 0, json: { file, identity, layers: result.layers.map(layerJson) } };
      if (values.verbose) {
        const header = [
          `version:  ${id.versionString ?? id.version ?? "(not found)"}`,
          `build-id: ${id.buildId ?? "(none)"}`,
          `config:   ${id.config ? `${Object.keys(id.config).length} options (CONFIG_IKCONFIG)` : "(not embedded)"}`,
        ];
        return { status: 0, text: renderTree(file, bytes.length, result.layers, header) };
      }
      const appended = result.layers[0]?.format !== "pe" && hasAppendedSignature(bytes);
      return { status: 0, text: renderSummary({ file, size: bytes.length, layers: result.layers, identity: id, appendedSignature: appended, full, color: Boolean(io.color) }) };
    });
  },
};
