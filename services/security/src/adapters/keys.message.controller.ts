import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { KEY_REQUEST_PATTERN } from '@weai/contracts';
import { OnRequest, type RequestContext, subjectPrincipal } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { KeyRelease } from '../application/key-release';

/** Data keys on `weai.rpc.security.keys.<requester>`: the requester is the last token, which only it may publish to. */
@Controller()
export class KeysMessageController {
  constructor(
    private readonly keys: KeyRelease,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @OnRequest(KEY_REQUEST_PATTERN, { queue: 'security' })
  request(@Payload() body: unknown, @Ctx() ctx: RequestContext) {
    return this.keys.request(subjectPrincipal(ctx), body, this.clock.now());
  }
}
