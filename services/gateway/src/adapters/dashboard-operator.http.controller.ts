import type { ServerResponse } from 'node:http';
import { Controller, Get, Param, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { Throughput } from '../application/throughput.read-model';
import { AuthGuard, Roles } from '../auth/auth.guard';
import { writeLive } from '../dashboard/live';
import { LiveFeeds } from '../dashboard/live-feeds';
import { StreamRangeQuery, StreamParam } from '../dashboard/schemas';
import { MAX_PAGE, StreamBrowser } from '../dashboard/stream-browser';
import { ParamPipe, QueryPipe } from '../http/body';
import { ERROR_RESPONSE, bytesResponse } from '../http/schemas';

/** The operator dashboard's data: the event browser over JetStream streams, the network's throughput, and a live feed of the node network. */
@ApiTags('operator')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing, expired or forged token or key', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not an operator', ...ERROR_RESPONSE })
@Roles('operator')
@UseGuards(AuthGuard)
@Controller('v1/operator')
export class DashboardOperatorHttpController {
  constructor(
    private readonly streams: StreamBrowser,
    private readonly feeds: LiveFeeds,
    private readonly throughput: Throughput,
  ) {}

  @Get('streams')
  @ApiOperation({ summary: 'The JetStream streams an operator may browse (the event families, telemetry, parked messages, security reports; never shard inputs or results)' })
  @ApiResponse({ status: 200, description: '[{ name, subjects, messages, firstSeq, lastSeq }]' })
  list() {
    return this.streams.list();
  }

  @Get('streams/:stream/messages')
  @ApiOperation({ summary: `Messages of a stream by sequence, \`from\`..\`to\` inclusive, at most ${MAX_PAGE} per page` })
  @ApiParam({ name: 'stream', description: 'e.g. WEAI_NODES' })
  @ApiQuery({ name: 'from', required: false, description: 'first sequence (default 1)' })
  @ApiQuery({ name: 'to', required: false, description: `last sequence (default from + ${MAX_PAGE - 1})` })
  @ApiQuery({ name: 'since', required: false, description: 'instead of from: the first message stored at or after this ISO-8601 UTC time' })
  @ApiResponse({ status: 200, description: '{ stream, firstSeq, lastSeq, entries: [{ seq, subject, time, headers, data, size }] }' })
  @ApiResponse({ status: 404, description: 'no such stream, or one that is not browsable', ...ERROR_RESPONSE })
  async read(@Param('stream', new ParamPipe('stream', StreamParam)) stream: string, @Query(new QueryPipe(StreamRangeQuery)) range: z.infer<typeof StreamRangeQuery>) {
    const from = range.since ? await this.streams.firstSince(stream, range.since) : (range.from ?? 1);
    // Nothing stored since then: an empty page that still says where the stream stands.
    if (from === null) return { ...(await this.streams.read(stream, 1, 0)), entries: [] };
    return this.streams.read(stream, from, range.to ?? from + MAX_PAGE - 1);
  }

  @Get('queues')
  @ApiOperation({ summary: 'Queue depth of the shard work queue: messages waiting per capability class, and each consumer\'s pending, in-progress and redelivered counts' })
  @ApiResponse({ status: 200, description: '{ subjects: [{ subject, waiting }], consumers: [{ name, filter, pending, inProgress, redelivered }] }' })
  queues() {
    return this.streams.queues();
  }

  @Get('throughput')
  @ApiOperation({ summary: 'Shards validated and jobs completed per minute over the last hour (60 points, oldest first), from the gateway\'s projection of the jobs stream' })
  @ApiResponse({ status: 200, description: '{ minutes: [{ at, shardsValidated, jobsCompleted }] }' })
  async throughputOfLastHour() {
    return { minutes: await this.throughput.lastHour(new Date()) };
  }

  @Get('live')
  @ApiOperation({ summary: 'Server-sent events: `node` (every node event: seq, nodeId, type) and `heartbeat` (each node: allowsWork, activeShards, slots)' })
  @ApiResponse(bytesResponse(200, 'server-sent events', 'text/event-stream'))
  async live(@Res() res: ServerResponse) {
    await writeLive(res, this.feeds.operator(), this.feeds.signal);
  }
}
