/**
 * Runs async tasks one at a time, in call order. The sandbox puts every write through one, so a
 * unit of work (a request, a transaction Bundle) sees no interleaved writes and can be rolled back.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    // Keep the chain alive whatever the task's outcome; callers get the real result.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
