import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fc from 'fast-check';
import { SECURITY_RPC } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { type Bus, JetStreamServer, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { EVENT_STORE, serviceConfigFromEnv } from '@weai/runtime';
import { UnusableObservationError, parseAuthErrorAdvisory, parseLogLine } from '../src/domain/audit';
import { SecurityModule } from '../src/security.module';

/**
 * Malformed and oversized payloads against the security service's own handlers, over real NATS and
 * SQLite: every one is answered with a clear error, the service keeps answering, and nothing is
 * written (store head and the rendered users file unchanged).
 */
describe('security service handlers under malformed input (fast-check)', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let app: INestMicroservice;
  let store: EventStore;
  let dir: string;
  let usersFile: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'weai-security-fuzz-'));
    usersFile = join(dir, 'users.conf');
    writeFileSync(usersFile, 'users = []\n');
    bus = await connectBus({ servers: nats.url, name: 'security-fuzz' });
    await ensureStreams(bus.jsm);
    const config = serviceConfigFromEnv({ WEAI_DATA_DIR: dir, NATS_URL: nats.url }, 'security', 'security');
    // No pid file: should any payload get as far as a reload, the reply would be an internal error.
    const options = { nats: { usersFile, pidFile: join(dir, 'absent.pid'), bootstrapUsers: [] }, audit: {} };
    app = await NestFactory.createMicroservice(SecurityModule.create(config, bus, options), { strategy: new JetStreamServer(bus), logger: false });
    await app.listen();
    store = app.get(EVENT_STORE);
  });
  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const CLEAR_CODES = ['bad-request', 'security.bad-principal', 'security.bad-capability', 'security.bad-request', 'security.unknown-service', 'credential.unknown'];

  /** Sends raw bytes and returns the reply's error code; fails the property on success or an internal error. */
  async function refusedWith(subject: string, payload: Uint8Array): Promise<string> {
    const reply = (await bus.nc.request(subject, payload, { timeout: 5000 })).json<{ ok: boolean; error?: { code: string; message: string } }>();
    expect(reply.ok).toBe(false);
    expect(CLEAR_CODES).toContain(reply.error!.code);
    expect(reply.error!.message.length).toBeGreaterThan(0);
    return reply.error!.code;
  }

  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const KEY = `U${'A'.repeat(55)}`;
  const validIssue = { credentialId: 'c1', role: 'node', principalId: 'n1', capabilityClasses: ['cpu.avx2'], publicNkey: KEY };
  /** A field value that is wrong for its field: wrong type, wildcard, oversized, empty. */
  const badValue = fc.oneof(
    fc.constantFrom('', '>', '*', 'a.b', 'a b', 'x'.repeat(129), 'x'.repeat(200_000), 'SUAM…', null, 0, -1, true, [], {}),
    fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9_-]+$/.test(s)),
  );
  /** A list of capability classes with at least one that is not a class ([] and ['a.b'] are valid lists). */
  const classListWithABadOne = fc
    .array(badValue, { minLength: 1, maxLength: 70 })
    .filter((list) => list.some((c) => typeof c !== 'string' || c.length > 64 || !/^[a-z0-9]+(\.[a-z0-9]+){0,7}$/.test(c)));
  const brokenIssue = fc.oneof(
    fc.record({ field: fc.constantFrom('credentialId', 'role', 'principalId', 'publicNkey'), value: badValue }).map(({ field, value }) => ({ ...validIssue, [field]: value })),
    fc.record({ value: fc.oneof(badValue.filter((v) => !Array.isArray(v)), classListWithABadOne, fc.array(fc.constant('cpu.avx2'), { minLength: 65, maxLength: 80 })) }).map(({ value }) => ({ ...validIssue, capabilityClasses: value })),
    fc.constantFrom({ ...validIssue, extra: 1 }, { ...validIssue, role: 'service', principalId: 'mallory', capabilityClasses: undefined }, { ...validIssue, role: 'partner' }),
    fc.anything().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || !('credentialId' in v)),
  );

  it('refuses every malformed issue request, writes nothing, and keeps answering', async () => {
    const head = await store.headPosition();
    const users = readFileSync(usersFile, 'utf8');
    await fc.assert(fc.asyncProperty(brokenIssue, async (body) => void (await refusedWith(SECURITY_RPC.issue, json(body)))), { numRuns: 150 });
    expect(await store.headPosition()).toBe(head);
    expect(readFileSync(usersFile, 'utf8')).toBe(users);
  });

  it('refuses every malformed revoke request (including unknown credentials) and writes nothing', async () => {
    const head = await store.headPosition();
    const body = fc.oneof(
      fc.record({ credentialId: badValue, reason: fc.constant('r') }),
      fc.record({ credentialId: fc.constant('c1'), reason: fc.oneof(badValue, fc.constant('x'.repeat(513))) }),
      fc.record({ credentialId: fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/), reason: fc.string({ minLength: 1, maxLength: 50 }) }),
      fc.anything(),
    );
    await fc.assert(fc.asyncProperty(body, async (b) => void (await refusedWith(SECURITY_RPC.revoke, json(b)))), { numRuns: 150 });
    expect(await store.headPosition()).toBe(head);
  });

  it('refuses every malformed node enrolment or owner revocation (including unknown nodes) and writes nothing', async () => {
    const head = await store.headPosition();
    const users = readFileSync(usersFile, 'utf8');
    const validEnrolment = { publicKey: KEY, capabilityClasses: ['cpu.generic'] };
    const enrolment = fc.oneof(
      fc.record({ value: badValue }).map(({ value }) => ({ ...validEnrolment, publicKey: value })),
      // Only canonical classes may be enrolled: a plausible-looking class that is not one is refused too.
      fc.record({ value: fc.oneof(badValue, fc.constant([]), fc.constant(['a.b']), fc.constant(['cuda.sm87.vram8']), fc.array(fc.constant('cpu.generic'), { minLength: 65, maxLength: 70 })) }).map(({ value }) => ({ ...validEnrolment, capabilityClasses: value })),
      fc.constantFrom({ ...validEnrolment, role: 'service' }, { ...validEnrolment, principalId: 'scheduler' }, { ...validEnrolment, publicNkey: KEY }),
      // The gateway must name the owner it authenticated (recorded on the credential).
      fc.oneof(fc.constant(undefined), badValue).map((ownerId) => ({ ...validEnrolment, ownerId })),
      fc.anything().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || !('publicKey' in v)),
    );
    await fc.assert(fc.asyncProperty(enrolment, async (b) => void (await refusedWith(SECURITY_RPC.enrolNode, json(b)))), { numRuns: 100 });
    const revocation = fc.oneof(
      fc.record({ nodeId: badValue, reason: fc.constant('r') }),
      fc.record({ nodeId: fc.stringMatching(/^n[0-9a-f]{24}$/), reason: fc.string({ minLength: 1, maxLength: 50 }) }),
      // An owner's revocation of a node nobody enrolled, or naming no well-formed owner.
      fc.record({ nodeId: fc.stringMatching(/^n[0-9a-f]{24}$/), reason: fc.constant('r'), ownerId: fc.oneof(fc.stringMatching(/^o[0-9a-f]{24}$/), badValue) }),
      fc.anything(),
    );
    await fc.assert(fc.asyncProperty(revocation, async (b) => void (await refusedWith(SECURITY_RPC.revokeNode, json(b)))), { numRuns: 100 });
    expect(await store.headPosition()).toBe(head);
    expect(readFileSync(usersFile, 'utf8')).toBe(users);
  });

  it('refuses bytes that are not JSON, including ~900 KB bodies, and writes nothing', async () => {
    const head = await store.headPosition();
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.constant(new Uint8Array(900_000).fill(0x7b)), fc.constant(json('x'.repeat(900_000))));
    await fc.assert(
      fc.asyncProperty(bytes, fc.constantFrom(SECURITY_RPC.issue, SECURITY_RPC.revoke), async (b, subject) => void (await refusedWith(subject, b))),
      { numRuns: 60 },
    );
    expect(await store.headPosition()).toBe(head);
  });

  it('the advisory and log parsers answer any input with a result or a clear error, never a crash', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 4096 }), fc.anything().map((v) => json(v ?? null)), fc.constant(new Uint8Array(70_000))), (b) => {
        try {
          parseAuthErrorAdvisory(b);
        } catch (error) {
          expect(error).toBeInstanceOf(UnusableObservationError);
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(fc.property(fc.string({ maxLength: 6000 }), (line) => void parseLogLine(`[ERR] ${line}`)), { numRuns: 500 });
  });
});
