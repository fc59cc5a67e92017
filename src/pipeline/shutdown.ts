/**
 * Ordered shutdown: workers close before queues, queues before connections, so a worker can
 * finish (or hand back) its job and enqueue follow-ups before the connection it needs goes away.
 */
import { logger } from '../observability/logger.ts';

export type Closer = () => Promise<unknown>;

export class ShutdownRegistry {
  private readonly stages = new Map<number, { name: string; close: Closer }[]>();

  /** Lower stages close first: 0 servers, 1 workers, 2 queues, 3 connections. */
  add(stage: 0 | 1 | 2 | 3, name: string, close: Closer): void {
    const list = this.stages.get(stage) ?? [];
    list.push({ name, close });
    this.stages.set(stage, list);
  }

  async closeAll(): Promise<void> {
    for (const stage of [...this.stages.keys()].sort((a, b) => a - b)) {
      await Promise.all(
        (this.stages.get(stage) ?? []).map(async ({ name, close }) => {
          try {
            await close();
          } catch (err) {
            logger.warn({ component: name, err: (err as Error).message }, 'error while closing');
          }
        }),
      );
    }
    this.stages.clear();
  }
}
