import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Param, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { JobEventsService } from '../application/job-events.service';
import { AuthGuard, PartnerId, Roles } from '../auth/auth.guard';
import { ApiError } from '../http/api-error';
import { ERROR_RESPONSE, bytesResponse } from '../http/schemas';
import { writeSse } from '../http/sse';
import { JOB_ID, JobIdParam } from './jobs.http.controller';

/** A job's events as server-sent events. */
@ApiTags('jobs')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong API key or token', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not a partner', ...ERROR_RESPONSE })
@ApiResponse({ status: 429, description: 'too many requests; retry after Retry-After seconds', ...ERROR_RESPONSE })
@Roles('partner')
@UseGuards(AuthGuard)
@Controller('v1/jobs')
export class JobEventsHttpController {
  constructor(private readonly events: JobEventsService) {}

  @Get(':jobId/events')
  @ApiOperation({ summary: "The job's events, replayed from the start and then live; the stream ends after JobCompleted, JobFailed or JobCancelled" })
  @ApiParam(JOB_ID)
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this event id (sent by EventSource when it reconnects)' })
  @ApiResponse(bytesResponse(200, "server-sent events: `id` is the event's sequence in WEAI_JOBS, `event` its type, `data` the event as JSON", 'text/event-stream'))
  @ApiResponse({ status: 404, description: 'no such job of this partner', ...ERROR_RESPONSE })
  async follow(@PartnerId() partnerId: string, @Param('jobId', JobIdParam) jobId: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    await writeSse(res, await this.events.openStream(partnerId, jobId, lastEventId(req)));
  }
}

function lastEventId(req: IncomingMessage): number | undefined {
  const raw = req.headers['last-event-id'];
  if (raw === undefined || raw === '') return undefined;
  const seq = Number(raw);
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(seq)) throw new ApiError(400, 'bad-request', 'Last-Event-ID must be an event id this stream sent');
  return seq;
}
