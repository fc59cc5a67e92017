/**
 * The ingest baseline (a child process): the least an HTTP endpoint can do to store a
 * notification in BullMQ. Express reads the body, parses it, and does one `queue.add` per
 * request on the same Redis; then a small JSON answer. No auth, no adapters, no triggers.
 *
 * Env: PORT, REDIS_URL, QUEUE_PREFIX.
 */
import express from 'express';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const queue = new Queue('events', { connection, prefix: process.env.QUEUE_PREFIX ?? 'bench-baseline' });

const app = express();
app.disable('x-powered-by');
const raw = express.raw({ type: () => true, limit: '5mb' });

const store = (req: express.Request, res: express.Response): void => {
  const parsed = JSON.parse((req.body as Buffer).toString('utf8')) as { resourceType?: string; id?: string };
  queue.add('event', { path: req.path, resourceType: parsed.resourceType, id: parsed.id, receivedAt: Date.now() }).then(
    () => res.status(200).json({ stored: true }),
    () => res.status(503).json({ stored: false }),
  );
};

app.get('/readyz', (_req, res) => {
  res.json({ ready: true });
});
app.post('/notify', raw, store);
app.put('/notify/:type/:id', raw, store);

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeIdleConnections();
  void queue.close().then(() => connection.quit()).then(() => process.exit(0));
});
