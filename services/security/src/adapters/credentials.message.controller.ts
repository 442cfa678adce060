import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { SECURITY_RPC } from '@weai/contracts';
import { OnRequest } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { CredentialCommands } from '../application/credentials';
import { RegistryReader } from '../application/registry.reader';

/** Operators issue and revoke bus credentials (only operators may publish there); the gateway enrols owners' nodes (see domain/permissions). */
@Controller()
export class CredentialsMessageController {
  constructor(
    private readonly commands: CredentialCommands,
    private readonly registry: RegistryReader,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @OnRequest(SECURITY_RPC.issue, { queue: 'security' })
  issue(@Payload() body: unknown) {
    return this.commands.issue(body, this.clock.now());
  }

  @OnRequest(SECURITY_RPC.revoke, { queue: 'security' })
  revoke(@Payload() body: unknown) {
    return this.commands.revoke(body, this.clock.now());
  }

  /** A node owner's enrolment of a node key, forwarded by the gateway (the only service permitted to publish here). */
  @OnRequest(SECURITY_RPC.enrolNode, { queue: 'security' })
  enrolNode(@Payload() body: unknown) {
    return this.commands.enrolNode(body, this.clock.now());
  }

  /** A node owner's revocation of its own node, forwarded by the gateway: one registered to the owner, or (with `ownerId`) one it enrolled. */
  @OnRequest(SECURITY_RPC.revokeNode, { queue: 'security' })
  revokeNode(@Payload() body: unknown) {
    return this.commands.revokeNode(body, this.clock.now());
  }

  /** The active credentials: ids, roles, public keys and permissions (no secret exists to show). */
  @OnRequest(SECURITY_RPC.list, { queue: 'security' })
  async list() {
    return [...(await this.registry.current()).active.values()];
  }
}
