import type { EventStore } from '@weai/eventstore';
import { type CredentialRegistry, emptyRegistry, projectRegistry } from '../domain/registry';

/**
 * The credential registry, read from the security service's own store (not from JetStream): the
 * server configuration must be right before the service itself can connect to NATS.
 */
export class RegistryReader {
  private registry: CredentialRegistry = emptyRegistry();
  private position = 0;

  constructor(private readonly store: EventStore) {}

  /** Catches up with the store and returns the registry. */
  async current(): Promise<CredentialRegistry> {
    for (;;) {
      const page = await this.store.readAll(this.position, 1000);
      if (page.length === 0) return this.registry;
      this.registry = projectRegistry(page, this.registry);
      this.position = page[page.length - 1]!.position;
    }
  }
}
