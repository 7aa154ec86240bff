// The s390x plan on the real Debian s390x images: the parmarea fields land at
// setup.h's offsets, the layout is kexec_file_add_components', and the
// secure-IPL path refuses what s390_verify_sig refuses.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planS390, S390_RESTART_PSW_MASK, STARTUP_NORMAL_OFFSET } from "../../src/plan/arch/s390.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { parseS390Image } from "../../src/formats/s390/format.js";
import { signAppended } from "../../src/signature/sign-appended.js";
import { isKimageError } from "../../src/core/errors.js";
import { makePki, type Pki } from "../support/sign-pki.js";
import { readBytes, requireReal } from "../support/real.js";

const kernels = requireReal("s390x kernel", (f) => f.arch === "s390x" && f.kind === "kernel");
const memory = memoryMap([{ start: 0n, size: 1n << 30n, type: "ram" }]);
const be64 = (b: Uint8Array, at: number): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, false);

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isKimageError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe.skipIf(kernels.length === 0)("s390x plan", () => {
  const path = kernels[0]?.abs ?? "";
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki?.cleanup());

  it("writes the command line, initrd start/size and the restart PSW where setup.h and kexec_file put them", async () => {
    const kernel = readBytes(path);
    const initrd = new Uint8Array(5000).fill(7);
    const plan = await planS390({ kernel, initrd, cmdline: "root=/dev/ram0 kimage=1", memory });
    const [k, i] = plan.segments;
    expect(k?.mem).toBe(0n);
    expect(k?.bytes.length).toBe(kernel.length);
    expect(i?.mem).toBe(BigInt(Math.ceil(kernel.length / 4096) * 4096));
    const b = k?.bytes ?? new Uint8Array();
    expect(be64(b, 0x10408)).toBe(i?.mem);
    expect(be64(b, 0x10410)).toBe(5000n);
    expect(be64(b, 0)).toBe(S390_RESTART_PSW_MASK + STARTUP_NORMAL_OFFSET);
    // The format layer reads the plan's parmarea back.
    const parsed = parseS390Image(b);
    expect(parsed.parmarea?.command_line).toBe("root=/dev/ram0 kimage=1");
    expect(parsed.parmarea?.initrd_start).toBe(i?.mem);
    expect(plan.entry).toEqual({ pc: 0x10000n, registers: {} });
    // Only the parmarea and the first 8 bytes change; the input is not modified.
    const diff = [...b].flatMap((x, n) => (x !== kernel[n] ? [n] : []));
    expect(diff.every((n) => n < 8 || (n >= 0x10400 && n < 0x10480 + 4096))).toBe(true);
    expect(be64(kernel, 0x10408)).toBe(0n);
  });

  it("without an initrd: zero initrd fields, one segment; without a command line: the image's own stays", async () => {
    const kernel = readBytes(path);
    const plan = await planS390({ kernel, cmdline: "x", memory });
    expect(plan.segments.map((s) => s.name)).toEqual(["kernel"]);
    expect(be64(plan.segments[0]?.bytes ?? new Uint8Array(), 0x10410)).toBe(0n);
    const own = parseS390Image(kernel).parmarea?.command_line;
    const kept = await planS390({ kernel, memory });
    expect(kept.cmdline).toBe(own);
    expect(parseS390Image(kept.segments[0]?.bytes ?? new Uint8Array()).parmarea?.command_line).toBe(own);
  });

  it("refuses a command line the parmarea cannot hold (cmdline_buf_len >= max_command_line_size)", async () => {
    const kernel = readBytes(path);
    const max = Number(be64(kernel, 0x10430)) || 896;
    await planS390({ kernel, cmdline: "a".repeat(max - 2), memory });
    expect(await refused(planS390({ kernel, cmdline: "a".repeat(max - 1), memory }))).toMatch(/^plan-refused: .*command line/);
  });

  it("refuses an image that ends before the parmarea's command line", async () => {
    const kernel = readBytes(path).slice(0, 0x10480 + 64);
    expect(await refused(planS390({ kernel, memory }))).toMatch(/^plan-refused: .*-EINVAL/);
  });

  it("refuses a layout outside RAM or on an excluded range (the addresses are fixed)", async () => {
    const kernel = readBytes(path);
    expect(await refused(planS390({ kernel, memory: memoryMap([{ start: 0n, size: 0x100000n, type: "ram" }]) }))).toMatch(/^plan-refused: .*not inside/);
    expect(await refused(planS390({ kernel, memory, exclude: [{ start: 0x20000n, size: 0x1000n }] }))).toMatch(/^plan-refused: .*excluded/);
  });

  it("secure IPL: refuses an unsigned image, accepts a signed one, verifies it against the signer only", async () => {
    const kernel = readBytes(path);
    expect(await refused(planS390({ kernel, memory, secureIpl: {} }))).toMatch(/^plan-refused: .*-EKEYREJECTED/);
    const signed = await signAppended(kernel, { key: pki.leaf.keyPem, cert: pki.leaf.certDer });
    const plan = await planS390({ kernel: signed, initrd: new Uint8Array(10), memory, secureIpl: { verify: { trust: [pki.leaf.certDer] } } });
    expect(plan.bootParams.signature).toMatchObject({ checked: "verified" });
    // The whole file is loaded, signature included, and the initrd follows it.
    expect(plan.segments[0]?.bytes.length).toBe(signed.length);
    expect(plan.segments[1]?.mem).toBe(BigInt(Math.ceil(signed.length / 4096) * 4096));
    expect(await refused(planS390({ kernel: signed, memory, secureIpl: { verify: { trust: [pki.other.certDer] } } }))).toMatch(/^plan-refused: .*verify_pkcs7_signature/);
    // Without secure IPL the signature is loaded and reported, not checked.
    expect((await planS390({ kernel: signed, memory })).bootParams.signature).toMatchObject({ checked: "not-checked" });
    // A corrupt module_signature (non-zero algo) is -EBADMSG.
    const bad = signed.slice();
    bad[bad.length - 28 - 12] = 1;
    expect(await refused(planS390({ kernel: bad, memory, secureIpl: {} }))).toMatch(/^plan-refused: .*-EBADMSG/);
  });
});
