/**
 * What `verify --mode auto` chooses and what each mode's rules are, in a
 * file of its own with no Node import, so the web page applies the same
 * rules as the CLI.
 *
 * @module
 */

import type { PolicyMode } from "../signature/policy.js";
import type { AuthenticodeVerdict } from "../signature/verify.js";
import { parsePe } from "../formats/pe/parse.js";
import { classifyStub } from "../formats/pe/stub.js";
import { probeUki } from "../formats/pe/uki/format.js";
import { isKimageError } from "../core/errors.js";

/** What each mode's rules are, in one phrase. */
export const MODE_RULES: Readonly<Record<PolicyMode, string>> = {
  kernel: "kernel rules (kexec_file_load): only the first signature counts, and the certificate table must hold exactly it",
  shim: "firmware rules (shim, UEFI db): any valid signature suffices; a denied certificate in any signature rejects",
  any: "any valid signature, nested ones included",
  all: "every signature must be valid",
};

/**
 * The mode `--mode auto` picks for `bytes`: `kernel` for a Linux kernel
 * (a PE whose EFI stub fronts a kernel image, see classifyStub) or a file
 * that is not a readable PE, `shim` (firmware rules) for any other PE.
 */
export function autoMode(bytes: Uint8Array): { mode: PolicyMode; why: string } {
  let stub;
  try {
    stub = classifyStub(parsePe(bytes));
  } catch (e) {
    if (!isKimageError(e)) throw e;
    return { mode: "kernel", why: "not a readable PE" };
  }
  if (!stub && probeUki(bytes)) return { mode: "shim", why: "a unified kernel image (firmware and shim verify its envelope)" };
  return stub ? { mode: "kernel", why: `a Linux kernel (an EFI stub for ${stub})` } : { mode: "shim", why: "an EFI application that is not a Linux kernel" };
}

/**
 * The JSON form of an Authenticode verdict (`verify --json`), with the mode
 * `--mode auto` chose and why, when it chose.
 */
export function verdictJson(v: AuthenticodeVerdict, auto?: { why: string }): Record<string, unknown> {
  return {
    verdict: v.verdict,
    reason: v.reason,
    detail: v.detail,
    mode: v.mode,
    ...(auto ? { modeRequested: "auto", modeReason: auto.why } : {}),
    strict: v.strict,
    signatures: v.signatures,
    findings: v.findings,
    sbat: v.sbat ?? null,
  };
}
