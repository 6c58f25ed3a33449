import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/**
 * Loaded with `--import` through NODE_OPTIONS (Node 20 refuses --cpu-prof there): profiles
 * the whole process and writes a .cpuprofile to BENCH_CPU_PROFILE_DIR when it exits.
 * The in-thread inspector session answers synchronously, so the 'exit' handler can write.
 */
const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.once('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
