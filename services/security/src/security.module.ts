import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { EventStore } from '@weai/eventstore';
import { type Bus } from '@weai/messaging';
import { EVENT_STORE, EventSourcingModule, type ServiceConfig } from '@weai/runtime';
import { AuditRecorder } from './application/audit.recorder';
import { CredentialCommands } from './application/credentials';
import { type NatsConfigTarget, NatsConfigWriter } from './application/nats-config';
import { RegistryReader } from './application/registry.reader';
import { KeyRelease } from './application/key-release';
import type { KeyRing } from './application/key-ring';
import { KeysMessageController } from './adapters/keys.message.controller';
import { AuditListener } from './adapters/audit.listener';
import { CredentialSync } from './adapters/credential-sync.listener';
import { CredentialsMessageController } from './adapters/credentials.message.controller';
import { DenialsMessageController } from './adapters/denials.message.controller';
import { AUDIT_SOURCES, type AuditSources } from './adapters/tokens';

/** What the security service runs with besides the event-sourcing plumbing. */
export interface SecurityOptions {
  readonly nats: NatsConfigTarget;
  readonly audit: AuditSources;
  /** The key-encryption key: with it the service releases data keys (`weai.rpc.security.keys.*`); without, it answers no key request. */
  readonly keys?: KeyRing;
  /** How often this replica reconciles its nats-server's users with the store (`SECURITY_RECONCILE_MS`; default 30 s). */
  readonly reconcileMs?: number;
}

const applicationProviders: Provider[] = [
  { provide: RegistryReader, useFactory: (store: EventStore) => new RegistryReader(store), inject: [EVENT_STORE] },
  { provide: AuditRecorder, useFactory: (store: EventStore, registry: RegistryReader) => new AuditRecorder(store, registry), inject: [EVENT_STORE, RegistryReader] },
  { provide: CredentialCommands, useFactory: (store: EventStore, writer: NatsConfigWriter) => new CredentialCommands(store, writer), inject: [EVENT_STORE, NatsConfigWriter] },
];

const keyProvider = (bus: Bus, ring: KeyRing): Provider => ({
  provide: KeyRelease,
  useFactory: (store: EventStore, registry: RegistryReader) => new KeyRelease(ring, registry, bus.jsm, store),
  inject: [EVENT_STORE, RegistryReader],
});

/** The security service: bus credentials, the nats-server users they render to, the audit of refused access. */
@Module({})
export class SecurityModule {
  static create(config: ServiceConfig, bus: Bus, options: SecurityOptions): DynamicModule {
    return {
      module: SecurityModule,
      imports: [EventSourcingModule.forService({ config, bus })],
      controllers: [CredentialsMessageController, ...(options.keys ? [KeysMessageController] : [])],
      providers: [
        ...applicationProviders,
        { provide: NatsConfigWriter, useFactory: (registry: RegistryReader) => new NatsConfigWriter(registry, options.nats), inject: [RegistryReader] },
        // Credentials issued or revoked by another replica reach this replica's nats-server.
        { provide: CredentialSync, useFactory: (writer: NatsConfigWriter) => new CredentialSync(bus, writer, options.reconcileMs), inject: [NatsConfigWriter] },
        { provide: AUDIT_SOURCES, useValue: options.audit },
        AuditListener,
        // Refusals reported by edge services (the HTTP gateway) on WEAI_SECURITY_REPORTS.
        DenialsMessageController,
        ...(options.keys ? [keyProvider(bus, options.keys)] : []),
      ],
    };
  }
}
