/**
 * Counts EHR requests made within one unit of work (one scoring), across concurrent jobs.
 * AsyncLocalStorage keeps each scoring's count separate without threading a counter through
 * every call.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const storage = new AsyncLocalStorage<{ count: number }>();

/** Runs `work` and returns its result with the number of EHR requests it made. */
export async function countRequests<T>(work: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const slot = { count: 0 };
  const result = await storage.run(slot, work);
  return { result, requests: slot.count };
}

/** Called by the EHR client for every HTTP request. */
export function noteRequest(): void {
  const slot = storage.getStore();
  if (slot) slot.count++;
}
