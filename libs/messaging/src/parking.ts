import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { EVENT_HEADERS, parkedSubject } from '@weai/contracts';

/** Headers on a parked message besides the original ones. */
export const PARK_HEADERS = {
  reason: EVENT_HEADERS.parkReason,
  subject: 'Weai-Original-Subject',
  stream: 'Weai-Original-Stream',
  sequence: 'Weai-Original-Sequence',
} as const;

/**
 * Parks a message the consumer cannot process: a copy goes to `weai.parked.<consumer>` with the
 * reason and where it came from, then the original is terminated so it blocks nothing. If the
 * copy cannot be written the original is left for redelivery, so nothing is lost.
 */
export async function park(js: JetStreamClient, consumer: string, msg: JsMsg, reason: string, options = { terminate: true }): Promise<void> {
  const h = natsHeaders();
  // JetStream's publish controls (`Nats-Msg-Id`, `Nats-Expected-Last-Msg-Id`, …) belong to the
  // original publish: the relay sets an expected last id on its events, and WEAI_PARKED refused a
  // copy that kept it ("wrong last msg ID"), so the message could never be parked.
  for (const [key, values] of msg.headers ?? []) for (const v of values) if (!/^nats-/i.test(key)) h.append(key, v);
  h.set(PARK_HEADERS.reason, reason.slice(0, 1024).replace(/[\r\n]+/g, ' '));
  h.set(PARK_HEADERS.subject, msg.subject);
  h.set(PARK_HEADERS.stream, msg.info.stream);
  h.set(PARK_HEADERS.sequence, String(msg.seq));
  await js.publish(parkedSubject(consumer), msg.data, { headers: h, msgID: `${msg.info.stream}:${msg.seq}:${consumer}` });
  // A bare +TERM: nats-server 2.9 (the one tests run on) ignores `+TERM <reason>`, so a parked
  // message stayed unacknowledged and came back every ack wait, forever. The reason is in the copy.
  if (options.terminate) msg.term();
}
