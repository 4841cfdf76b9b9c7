// One memory-reducing garbage collection when the daemon's start-up is over.
//
// Start-up (module loading, config validation, profile data, the decode grid) grows V8's heap: the
// young generation to its largest size (about 8 MB resident) and old-space pages that now hold
// garbage. V8 returns them only once its memory reducer has seen the process idle for a while,
// 20-40 s after start on a busy node, so an idle planner looked ~10 MB bigger than its steady
// state for its first half minute or more (bench:daemon). A full collection that reduces memory
// (the inspector protocol's HeapProfiler.collectGarbage, in process: no port is opened) right when
// start-up is over gets there at once. It runs once; every later collection is V8's own.
import type { Session } from 'node:inspector';

/** Collect garbage once, reducing memory; false when this Node has no inspector (nothing done). */
export async function collectStartupGarbage(): Promise<boolean> {
  let session: Session | undefined;
  try {
    const { Session } = await import('node:inspector');
    session = new Session();
    session.connect();
    const open = session;
    await new Promise<void>((resolve, reject) => open.post('HeapProfiler.collectGarbage', (err) => (err ? reject(err) : resolve())));
    return true;
  } catch {
    // A Node built without the inspector: V8's memory reducer gets there later.
    return false;
  } finally {
    // Here, after the answer's callback has returned: post() answers synchronously from inside
    // the inspector's dispatch, and disconnecting from within that callback hangs the main thread.
    session?.disconnect();
  }
}
