import { Cluster } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * Holds a client's socket writes until the end of the event-loop turn, so the commands of the
 * requests read in one turn leave in one write, where each would otherwise make its own. On
 * loopback, and on a virtual machine above all, a socket write costs Node more than the
 * command costs Redis: it runs the receiving side's network stack and wakes Redis up.
 *
 * The socket is corked at the turn's first command and uncorked by setImmediate, which runs
 * after the turn's I/O callbacks and their promise jobs: a command waits for no other
 * command's reply, and the longest it is held is the rest of the turn it was issued in.
 * ioredis keeps its own reply queue in command order, so replies are matched as before.
 * On Redis Cluster every master's socket is held (a store's keys share one hash slot, so in
 * practice one node takes the turn's commands).
 */
export class TurnWrites {
  private holding = false;

  constructor(private readonly client: RedisClient) {}

  /** Holds this turn's writes, if they are not held already. */
  hold(): void {
    if (this.holding) return;
    const streams =
      this.client instanceof Cluster
        ? this.client.nodes('master').map((node) => node.stream)
        : [this.client.stream];
    // Before the first connection a client has no socket yet: nothing to hold.
    const held = streams.filter((stream) => stream !== undefined && stream !== null);
    if (held.length === 0) return;
    this.holding = true;
    for (const stream of held) stream.cork();
    setImmediate(() => {
      this.holding = false;
      for (const stream of held) stream.uncork();
    });
  }
}
