/**
 * `kimage extract FILE [--layer N | --innermost] -o OUT`: writes the bytes
 * of one layer, decompressed: the input of layer N as `inspect` numbers
 * them, or with `--innermost` the deepest bytes known (the last layer's
 * payload when no format recognises it, else the last layer's input).
 * `-o -` writes to standard output.
 *
 * `kimage extract UKI --section NAME [--profile N] -o OUT` writes one part
 * of a unified kernel image (`.linux`, `.initrd`, `.cmdline`, …): the
 * section systemd-stub would use for that profile, VirtualSize bytes.
 *
 * @module
 */

import { inspect, type InspectOptions } from "../inspect/registry.js";
import { CLI_FORMATS } from "./formats.js";
import { parsePe } from "../formats/pe/parse.js";
import { parseUki, ukiPart } from "../formats/pe/uki/parse.js";
import { formatBytes, type WithProgress } from "./progress.js";
import { outputName, readInput, writeOutput } from "./io.js";
import { UsageError, type Command } from "./types.js";

/** The extract command. */
export const extractCommand: Command = {
  name: "extract",
  usage: "extract FILE [--layer N | --innermost | --section NAME [--profile N]] -o OUT",
  summary: "write one layer's bytes, decompressed",
  options: {
    layer: { type: "string" },
    innermost: { type: "boolean", default: false },
    section: { type: "string" },
    profile: { type: "string" },
    output: { type: "string", short: "o" },
  },
  optionHelp: {
    layer: "the input of layer N, as inspect numbers them (0 = the file itself)",
    innermost: "the deepest bytes known (e.g. the vmlinux ELF of a bzImage)",
    section: "a UKI's section (.linux, .initrd, .cmdline, …) as systemd-stub uses it",
    profile: "with --section: the UKI profile N (default: the base)",
    output: "where to write; - is standard output",
  },
  notes: ["A FILE of - is standard input. What was written is reported on standard error."],
  positionals: ["FILE"],
  async run({ io, values, positionals }) {
    if (!values.output) throw new UsageError("extract: -o OUT is required");
    if (values.section !== undefined) {
      if (values.layer !== undefined || values.innermost) throw new UsageError("extract: give --section or --layer/--innermost, not both");
      let profile: number | undefined;
      if (values.profile !== undefined) {
        profile = Number(values.profile);
        if (!Number.isInteger(profile) || profile < 0) throw new UsageError("--profile must be a profile number (0 = the first .profile)");
      }
      const out = String(values.output);
      const uki = parseUki(parsePe(await readInput(positionals[0] as string, io.progress)));
      const part = ukiPart(uki, String(values.section), profile);
      await writeOutput(out, part.data, io);
      io.err(`kimage: section ${part.section.index} (${part.name})${profile === undefined ? "" : ` for profile ${profile}`}: wrote ${part.data.length} bytes to ${outputName(out)}`);
      return 0;
    }
    if (values.profile !== undefined) throw new UsageError("extract: --profile goes with --section");
    if (values.layer !== undefined && values.innermost) throw new UsageError("extract: give --layer N or --innermost, not both");
    let n: number | undefined;
    if (values.layer !== undefined) {
      n = Number(values.layer);
      if (!Number.isInteger(n) || n < 0) throw new UsageError("--layer must be a layer number (0 = outermost)");
    } else if (!values.innermost) {
      throw new UsageError("extract: give --layer N or --innermost");
    }
    const out = String(values.output);
    const progress = io.progress;
    const bytes = await readInput(positionals[0] as string, progress);
    const inspectOptions: InspectOptions & WithProgress = { decode: "full", formats: CLI_FORMATS, ...(progress ? { onProgress: progress } : {}) };
    progress?.({ phase: "decode", done: 0 });
    const { layers, inputs } = await inspect(bytes, inspectOptions);
    // The innermost bytes: the last layer's payload when no format recognised it
    // (e.g. the raw arm Image inside a zImage's xz), else the last layer's input.
    const last = layers[layers.length - 1];
    if (n === undefined && last?.payload) {
      progress?.({ phase: `write ${formatBytes(last.payload.bytes.length)}`, done: 0 });
      await writeOutput(out, last.payload.bytes, io);
      io.err(`kimage: the payload of layer ${layers.length - 1} (${last.format}): wrote ${last.payload.bytes.length} bytes to ${outputName(out)}`);
      return 0;
    }
    const i = n ?? layers.length - 1;
    const layer = layers[i];
    const data = inputs[i];
    if (!layer || !data) throw new UsageError(`extract: there are ${layers.length} layer(s) (0..${layers.length - 1})`);
    progress?.({ phase: `write ${formatBytes(data.length)}`, done: 0 });
    await writeOutput(out, data, io);
    io.err(`kimage: layer ${i} (${layer.format}): wrote ${data.length} bytes to ${outputName(out)}`);
    return 0;
  },
};
