import type { AnyStateMachine, AnyStateNode } from 'xstate';

/**
 * A machine as a Mermaid `stateDiagram-v2`, drawn from the machine itself (its state
 * nodes, not toJSON(), which leaves out eventless transitions): every state, every
 * transition with its event and the name of its guard. The README's diagram and the
 * console's live one are this text, so neither can drift from the machine.
 */
export function toMermaid(machine: AnyStateMachine): string {
  const lines = ['stateDiagram-v2'];
  drawStates(machine.root, lines, '  ');
  // Every transition at the top: Mermaid links states of different composites only there.
  for (const node of descendantsOf(machine.root)) {
    for (const line of transitionsOf(node)) lines.push(`  ${line}`);
    if (node.type === 'final') lines.push(`  ${mermaidId(node)} --> [*]`);
  }
  return `${lines.join('\n')}\n`;
}

/** Mermaid ids cannot hold dots: a state's path joined with `__` (one id per state, even for repeated keys). */
export function mermaidId(node: AnyStateNode): string {
  return node.path.join('__');
}

/** The states, nested as the machine nests them, each composite with its initial state. */
function drawStates(parent: AnyStateNode, lines: string[], indent: string): void {
  for (const child of Object.values(parent.states) as AnyStateNode[]) {
    lines.push(`${indent}state "${child.key}" as ${mermaidId(child)}`);
    if (Object.keys(child.states).length > 0) {
      lines.push(`${indent}state ${mermaidId(child)} {`);
      drawStates(child, lines, `${indent}  `);
      lines.push(`${indent}}`);
    }
  }
  const initial = parent.initial?.target[0] as AnyStateNode | undefined;
  if (initial) lines.push(`${indent}[*] --> ${mermaidId(initial)}`);
}

function descendantsOf(node: AnyStateNode): AnyStateNode[] {
  return (Object.values(node.states) as AnyStateNode[]).flatMap((child) => [child, ...descendantsOf(child)]);
}

function transitionsOf(node: AnyStateNode): string[] {
  const drawn: string[] = [];
  const definitions = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
  for (const transition of definitions) {
    const label = [eventLabel(transition.eventType), guardLabel(transition.guard)].filter(Boolean).join(' ');
    for (const target of (transition.target ?? []) as AnyStateNode[]) {
      drawn.push(`${mermaidId(node)} --> ${mermaidId(target)}: ${label}`);
    }
  }
  return drawn;
}

function eventLabel(eventType: string): string {
  if (eventType === '') return 'always';
  const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  return settled ? `${settled[2]} ${settled[1] === 'done' ? 'done' : 'error'}` : eventType;
}

function guardLabel(guard: unknown): string {
  if (guard === undefined) return '';
  const name = typeof guard === 'string' ? guard : (guard as { type?: unknown }).type;
  return `[${typeof name === 'string' ? name : 'guarded'}]`;
}
