/** Reads V8 .cpuprofile files and prints where the CPU went. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** node_modules/<package> → the package; project files → their path; the rest as V8 names them. */
function placeOf(url: string): string {
  if (url === '') return '(native / V8)';
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (pkg) return pkg;
  if (path.startsWith('node:')) return 'node internals';
  return path.startsWith(root) ? path.slice(root.length) : path;
}

/** A function's file and line, short: package-relative inside node_modules, project-relative in the project. */
function locationOf(url: string, lineNumber: number): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const short = path.includes('node_modules/') ? path.replace(/^.*node_modules\//, '') : path.startsWith(root) ? path.slice(root.length) : path;
  return `${short}:${lineNumber + 1}`;
}

interface Hotspot {
  name: string;
  selfMs: number;
  share: number;
}

function top(selfUs: Map<string, number>, busyUs: number, count: number): Hotspot[] {
  return [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), share: Math.round((us / busyUs) * 1000) / 10 }));
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  idleMs: number;
  functions: Hotspot[];
  places: Hotspot[];
}

export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      return;
    }
    busyUs += us;
    const place = placeOf(url);
    const name = `${functionName || '(anonymous)'}  ${locationOf(url, lineNumber)}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  });
  return {
    file,
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    functions: top(byFunction, busyUs, 25),
    places: top(byPlace, busyUs, 15),
  };
}

export function printProfiles(dir: string): void {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return;
  }
  for (const name of files) {
    const summary = summarizeProfile(join(dir, name));
    console.log(`\nCPU profile ${summary.file}: ${summary.busyMs} ms busy, ${summary.idleMs} ms idle`);
    console.log('  self time by function:');
    for (const h of summary.functions) console.log(`    ${String(h.share).padStart(5)} %  ${String(h.selfMs).padStart(6)} ms  ${h.name}`);
    console.log('  self time by package / file:');
    for (const h of summary.places) console.log(`    ${String(h.share).padStart(5)} %  ${String(h.selfMs).padStart(6)} ms  ${h.name}`);
  }
}
