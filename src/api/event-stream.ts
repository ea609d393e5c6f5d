import type { FastifyReply } from 'fastify';

/** A comment line this often keeps proxies and load balancers from closing an idle event stream. */
export const EVENT_STREAM_HEARTBEAT_MS = 15_000;

export interface EventStream {
  /** Writes one event (`event:` and its JSON `data:`); nothing once the stream has ended. */
  send(event: string, data: unknown): void;
  /** Ends the stream (once): the client's `close`, or the last event, call it. */
  end(): void;
  /** Runs `cleanup` once the stream has ended (at once if it already has): a subscription to drop, a lease to give back. */
  onEnd(cleanup: () => void): void;
}

/**
 * Turns a request into a `text/event-stream` response, written by hand on the raw socket (the reply is hijacked):
 * headers that keep proxies from buffering it, a heartbeat comment every {@link EVENT_STREAM_HEARTBEAT_MS}, and the
 * cleanups given to `onEnd` run once — when the client goes away or {@link EventStream.end} is called.
 * Both event routes (a job's progress, a stream's results) use it. We keep this small helper rather than
 * @fastify/sse (0.x, for fastify 5): the routes need hijacked replies with leases released exactly once.
 */
export function openEventStream(reply: FastifyReply): EventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write(': connected\n\n');
  let ended = false;
  const cleanups: (() => void)[] = [];
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), EVENT_STREAM_HEARTBEAT_MS);
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    for (const cleanup of cleanups.splice(0)) cleanup();
    raw.end();
  };
  raw.on('close', end);
  return {
    send(event, data) {
      if (!ended) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end,
    onEnd(cleanup) {
      if (ended) cleanup();
      else cleanups.push(cleanup);
    },
  };
}
