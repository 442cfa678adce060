import type { ServerResponse } from 'node:http';
import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { BUS } from '@weai/runtime';
import type { Bus } from '@weai/messaging';

const RTT_TIMEOUT_MS = 2000;

/** Liveness for load balancers: up, and NATS answers. */
@ApiTags('health')
@Controller('healthz')
export class HealthHttpController {
  constructor(@Inject(BUS) private readonly bus: Bus) {}

  @Get()
  @ApiOperation({ summary: 'Whether the gateway is up and reaches NATS' })
  @ApiResponse({ status: 200, description: 'up', schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } })
  @ApiResponse({ status: 503, description: 'NATS does not answer', schema: { type: 'object', properties: { status: { type: 'string', enum: ['unavailable'] }, reason: { type: 'string' } } } })
  async health(@Res() res: ServerResponse) {
    let reason: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${RTT_TIMEOUT_MS} ms`)), RTT_TIMEOUT_MS)));
    try {
      await Promise.race([this.bus.nc.rtt(), timeout]);
    } catch (error) {
      reason = `NATS: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
    res.writeHead(reason ? 503 : 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(reason ? { status: 'unavailable', reason } : { status: 'ok' }));
  }
}
