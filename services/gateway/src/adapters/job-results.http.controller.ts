import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Param, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { JobsService } from '../application/jobs.service';
import { ObjectsService } from '../application/objects.service';
import { AuthGuard, PartnerId, Roles } from '../auth/auth.guard';
import { sendBytes } from '../http/download';
import { ERROR_RESPONSE, bytesResponse } from '../http/schemas';
import { JOB_ID, JobIdParam } from './jobs.http.controller';

/** A completed job's integrated output. */
@ApiTags('jobs')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong API key or token', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not a partner', ...ERROR_RESPONSE })
@ApiResponse({ status: 429, description: 'too many requests; retry after Retry-After seconds', ...ERROR_RESPONSE })
@Roles('partner')
@UseGuards(AuthGuard)
@Controller('v1/jobs')
export class JobResultsHttpController {
  constructor(
    private readonly jobs: JobsService,
    private readonly objects: ObjectsService,
  ) {}

  @Get(':jobId/result')
  @ApiOperation({ summary: 'The integrated output (a WEAT tensor) of a completed job' })
  @ApiParam(JOB_ID)
  @ApiResponse(bytesResponse(200, 'the output; ETag and X-Content-SHA256 carry its SHA-256'))
  @ApiResponse({ status: 404, description: 'no such job of this partner', ...ERROR_RESPONSE })
  @ApiResponse({ status: 409, description: 'the job has not completed (or failed, or was cancelled)', ...ERROR_RESPONSE })
  async result(@PartnerId() partnerId: string, @Param('jobId', JobIdParam) jobId: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    const hash = await this.jobs.outputOf(partnerId, jobId);
    sendBytes(req, res, hash, await this.objects.download(hash));
  }
}
