/**
 * `kimage inspect FILE [--json]`: the layers of an image, outermost first.
 *
 * @module
 */

import { inspect } from "../formats/table.js";
import { readInput } from "./io.js";
import { layerJson, renderTree } from "./render.js";
import type { Command } from "./types.js";

/** The inspect command. */
export const inspectCommand: Command = {
  name: "inspect",
  usage: "inspect FILE [--json]",
  summary: "layers of a kernel image, outermost first",
  options: { json: { type: "boolean", default: false } },
  positionals: ["FILE"],
  async run({ io, values, positionals }) {
    const file = positionals[0] as string;
    const bytes = await readInput(file);
    const { layers } = await inspect(bytes);
    if (values.json) io.out(JSON.stringify({ file, layers: layers.map(layerJson) }, null, 2));
    else io.out(renderTree(file, bytes.length, layers));
    return 0;
  },
};
