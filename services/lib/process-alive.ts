/** Whether a process still runs: the data-folder lock and the embedded node's hand-off file ask it of a pid they read. */

/** True when process `pid` exists (EPERM: it exists, owned by another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
