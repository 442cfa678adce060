import type { ServerResponse } from 'node:http';
import { Controller, Get, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { OwnerService } from '../application/owner.service';
import { AuthGuard, CurrentPrincipal, Roles } from '../auth/auth.guard';
import type { Principal } from '../auth/tokens';
import { writeLive } from '../dashboard/live';
import { LiveFeeds } from '../dashboard/live-feeds';
import { TelemetryReadModel } from '../dashboard/telemetry.read-model';
import { ERROR_RESPONSE, bytesResponse } from '../http/schemas';

/** The owner dashboard's data: its nodes' telemetry over time, and a live feed. */
@ApiTags('owner')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing, expired or forged token', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not an owner', ...ERROR_RESPONSE })
@ApiResponse({ status: 503, description: 'the nodes service is not answering', ...ERROR_RESPONSE })
@Roles('owner')
@UseGuards(AuthGuard)
@Controller('v1/owner')
export class DashboardOwnerHttpController {
  constructor(
    private readonly owner: OwnerService,
    private readonly telemetry: TelemetryReadModel,
    private readonly feeds: LiveFeeds,
  ) {}

  @Get('telemetry')
  @ApiOperation({ summary: "The owner's nodes with their recent heartbeats: policy state, and each GPU's utilisation, temperature, power and free memory" })
  @ApiResponse({ status: 200, description: '{ nodes, samples: { <nodeId>: [ { at, allowsWork, reason, activeShards, slots, gpus } ] } }' })
  async telemetrySeries(@CurrentPrincipal() owner: Principal) {
    const nodes = await this.owner.nodes(owner.id);
    return { nodes, samples: this.telemetry.samplesOf(nodes.map((n) => n.nodeId)) };
  }

  @Get('live')
  @ApiOperation({ summary: "Server-sent events: `telemetry` (a heartbeat of one of the owner's nodes), `node` (a node event's type), `ledger` (a ledger event's type: re-read the earnings)" })
  @ApiResponse(bytesResponse(200, 'server-sent events', 'text/event-stream'))
  async live(@CurrentPrincipal() owner: Principal, @Res() res: ServerResponse) {
    await writeLive(res, this.feeds.owner(owner.id, () => this.owner.nodes(owner.id)), this.feeds.signal);
  }
}
