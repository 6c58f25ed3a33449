import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { paymentMachine } from '../machines/payment.machine.ts';
import { settlementMachine } from '../machines/settlement.machine.ts';
import { toMermaid } from '../src/diagram/mermaid.ts';

// `npm run diagram`: writes each machine's diagram into the README between its markers,
// so the README shows the machines as they are.

export const README = fileURLToPath(new URL('../README.md', import.meta.url));
export const MACHINES = { payment: paymentMachine, settlement: settlementMachine };

/** The README with every `<!-- diagram:<machine> -->` … `<!-- /diagram -->` block drawn anew. */
export function withDiagrams(readme: string): string {
  return readme.replace(
    /(<!-- diagram:(\w+) -->\n)[\s\S]*?(<!-- \/diagram -->)/g,
    (whole, open: string, name: string, close: string) => {
      const machine = MACHINES[name as keyof typeof MACHINES];
      if (!machine) throw new Error(`README names a machine this script does not know: ${name}`);
      return `${open}\`\`\`mermaid\n${toMermaid(machine)}\`\`\`\n${close}`;
    },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const before = readFileSync(README, 'utf8');
  const after = withDiagrams(before);
  writeFileSync(README, after);
  console.log(before === after ? 'README diagrams already up to date' : 'README diagrams redrawn');
}
