// kexec plans: where each segment goes and how the kernel is entered, as kexec_file_load would decide.
// Run: npx tsx examples/plan.ts x86_64 /boot/vmlinuz
//      npx tsx examples/plan.ts arm64 Image board.dtb
import { memoryMapFromCli, planArm64, planX86_64, type Plan } from "kimage";
import { readImage } from "kimage/node";

/** x86-64: a bzImage and a memory map (here from `ADDR:SIZE[@TYPE]` text, as the CLI's --memory takes it). */
export async function planX86(kernel: Uint8Array): Promise<Plan> {
  const memory = memoryMapFromCli("0x100000:0x7ff00000");
  return planX86_64({ kernel, memory, cmdline: "console=ttyS0", seed: 1n });
}

/** arm64: an Image (or a PE/zboot wrapper around one) and the DTB whose /memory nodes give the map. */
export async function planArm(kernel: Uint8Array, dtb: Uint8Array): Promise<Plan> {
  return planArm64({ kernel, dtb, cmdline: "console=ttyAMA0", seed: 1n });
}

export function describePlan(plan: Plan): string {
  const rows = plan.segments.map((s) => `  ${s.name.padEnd(10)} 0x${s.mem.toString(16).padStart(12, "0")} ${s.memsz} bytes`);
  return [`${plan.arch} ${plan.kind} plan, entry at 0x${plan.entry.pc.toString(16)}`, ...rows].join("\n");
}

const [arch, kernelPath, dtbPath] = process.argv.slice(2);
if (kernelPath && import.meta.filename === process.argv[1]) {
  const kernel = await readImage(kernelPath);
  const plan = arch === "arm64" && dtbPath ? await planArm(kernel, await readImage(dtbPath)) : await planX86(kernel);
  console.log(describePlan(plan));
}
