import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';

/** Reads every message of a stream, from its first to its current last sequence. */
export async function readWholeStream(js: JetStreamClient, jsm: JetStreamManager, stream: string): Promise<JsMsg[]> {
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return [];
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const out: JsMsg[] = [];
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push(m);
    if (m.seq >= state.last_seq) break;
  }
  await messages.close();
  return out;
}

/** Resolves when `predicate` holds, checking after every call of the returned `poke`. */
export function until<T>(predicate: () => T | undefined | false): { poke: () => void; done: Promise<T> } {
  let resolve!: (v: T) => void;
  const done = new Promise<T>((r) => (resolve = r));
  const poke = () => {
    const v = predicate();
    if (v) resolve(v);
  };
  return { poke, done };
}

/** Re-checks an asynchronous condition until it holds, failing after `timeoutMs` with `what`. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
