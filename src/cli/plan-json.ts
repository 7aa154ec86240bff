/**
 * The JSON form of a plan (`plan --json`, `plan.json`), in a file of its own
 * with no Node import, so the web page writes the same `plan.json` as the CLI.
 *
 * @module
 */

import type { PlanDigest } from "../plan/core/digest.js";
import type { AnyPlan } from "../plan/core/types.js";
import { kexecLoadCall } from "../plan/kexec-load.js";
import type { PurgatoryInfo } from "../plan/purgatory.js";
import { jsonReplacer } from "./json.js";

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** The JSON form of a plan, as `plan.json` holds it (addresses as hex strings). */
export function planJson(plan: AnyPlan, files?: string[], digest?: PlanDigest): Record<string, unknown> {
  const purgatory = (plan as AnyPlan & { purgatory?: PurgatoryInfo }).purgatory;
  const call = purgatory ? kexecLoadCall(plan, files) : undefined;
  return {
    arch: plan.arch,
    kind: plan.kind,
    cmdline: plan.cmdline,
    entry: { pc: hex(plan.entry.pc), registers: Object.fromEntries(Object.entries(plan.entry.registers).map(([k, v]) => [k, hex(v)])) },
    segments: plan.segments.map((s, i) => ({
      name: s.name,
      ...(files ? { file: files[i] } : {}),
      mem: hex(s.mem),
      memsz: hex(s.memsz),
      bufsz: hex(BigInt(s.bytes.length)),
      ...(s.align !== undefined ? { align: hex(s.align) } : {}),
    })),
    bootParams: JSON.parse(JSON.stringify(plan.bootParams, jsonReplacer)) as unknown,
    ...(purgatory
      ? {
          purgatory: {
            mem: hex(purgatory.mem),
            entryOffset: hex(purgatory.entryOffset),
            kernelEntry: { pc: hex(purgatory.kernelEntry.pc), registers: Object.fromEntries(Object.entries(purgatory.kernelEntry.registers).map(([k, v]) => [k, hex(v)])) },
            console: purgatory.console ? { kind: purgatory.console.kind, addr: hex(purgatory.console.addr), ...(purgatory.console.shift ? { shift: purgatory.console.shift } : {}) } : null,
          },
        }
      : {}),
    ...(call
      ? {
          kexec_load: {
            entry: hex(call.entry),
            nr_segments: call.nr_segments,
            flags: hex(BigInt(call.flags)),
            flagNames: call.flagNames,
            segments: call.segments.map((s) => ({ ...(s.file !== undefined ? { buf: s.file } : {}), bufsz: hex(s.bufsz), mem: hex(s.mem), memsz: hex(s.memsz) })),
          },
        }
      : {}),
    ...(digest
      ? {
          digest: {
            alg: digest.alg,
            sha256: digest.hex,
            regions: digest.regions.map((r) => ({ name: r.name, start: hex(r.start), len: hex(r.len) })),
          },
        }
      : {}),
    notes: plan.notes,
  };
}
