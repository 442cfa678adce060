/**
 * Loaded into a service or agent process with NODE_OPTIONS="--require …/cpu-prof-hook.js" when the
 * jobs benchmark runs with --cpu-prof (node 20 does not accept --cpu-prof itself in NODE_OPTIONS):
 * profiles the whole process with the inspector and writes a V8 `.cpuprofile` into
 * $WEAI_CPU_PROF_DIR when the process exits or ends on SIGTERM/SIGINT (not on SIGKILL).
 */
const { Session } = require('node:inspector');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.WEAI_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // 1 ms samples, as --cpu-prof takes by default.
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // The inspector answers in-process posts synchronously, so this completes before the exit.
    session.post('Profiler.stop', (error, result) => {
      if (error || !result) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on('exit', write);
  // NestJS closes the app on SIGTERM and then raises the signal again with its own listener gone,
  // so the process would die of it without an 'exit' event. When this listener is the only one
  // left, the profile is written and the process exits as the signal would have ended it.
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]]) {
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      write();
      process.exit(code);
    });
  }
}
