import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { NODE_RPC } from '@weai/contracts';
import { OnRequest } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { NodeCommands } from '../application/node.commands';

/** Signed requests from agents: register, report capabilities. */
@Controller()
export class RegistrationMessageController {
  constructor(
    private readonly commands: NodeCommands,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @OnRequest(NODE_RPC.register, { queue: 'nodes' })
  register(@Payload() body: unknown) {
    return this.commands.register(body, this.clock.now());
  }

  @OnRequest(NODE_RPC.capabilities, { queue: 'nodes' })
  capabilities(@Payload() body: unknown) {
    return this.commands.reportCapabilities(body, this.clock.now());
  }
}
