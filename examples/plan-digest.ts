// The purgatory digest: the SHA-256 over a plan's segments that purgatory checks before it jumps.
// Run: npx tsx examples/plan-digest.ts /boot/vmlinuz
import { memoryMapFromCli, planDigest, planX86_64, verifyPlanDigest, type Plan } from "kimage";
import { nodeHashProvider, readImage } from "kimage/node";

export async function digestOf(plan: Plan): Promise<string> {
  const digest = await planDigest(plan, { hash: nodeHashProvider });
  for (const r of digest.regions) console.log(`  region 0x${r.start.toString(16)} +${r.len}`);
  // What purgatory does at boot: re-hash memory and compare. Here "memory" is the plan itself.
  const check = await verifyPlanDigest(
    plan,
    (addr, len) => {
      const out = new Uint8Array(len); // zero fill beyond a segment's bytes, as the kernel loads it
      const seg = plan.segments.find((s) => s.mem <= addr && addr < s.mem + s.memsz);
      if (seg) out.set(seg.bytes.subarray(Number(addr - seg.mem), Number(addr - seg.mem) + len));
      return out;
    },
    { hash: nodeHashProvider },
  );
  if (!check.ok) throw new Error("digest mismatch");
  return digest.hex;
}

const path = process.argv[2];
if (path && import.meta.filename === process.argv[1]) {
  const plan = await planX86_64({ kernel: await readImage(path), memory: memoryMapFromCli("0x100000:0x7ff00000"), seed: 1n });
  console.log(await digestOf(plan));
}
