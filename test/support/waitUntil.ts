/**
 * Waits for a condition the test knows will come true (a create reaching the fake, a line on a
 * child's stderr), checking it every few milliseconds, and fails the test with `what` when it has
 * not within `timeoutMs`: the bound is a hang guard, never a timing assertion.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}.`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
