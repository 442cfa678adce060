import { Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Id } from '@weai/contracts';
import type { z } from 'zod';
import { JobsService } from '../application/jobs.service';
import { AuthGuard, PartnerId, Roles } from '../auth/auth.guard';
import { JsonBody, ParamPipe, QueryPipe } from '../http/body';
import { CancelJobBody, ERROR_RESPONSE, JobListQuery, JobListSchema, JobStatusSchema, SubmitJobBody, openApiSchema } from '../http/schemas';

const status = openApiSchema(JobStatusSchema);
/** Validates the `:jobId` of a path. */
export const JobIdParam = new ParamPipe('jobId', Id);
/** The OpenAPI description of `:jobId`. */
export const JOB_ID = { name: 'jobId', description: 'the id the job was submitted with', schema: openApiSchema(Id) };

/** Job commands and queries: submit, list, status, cancel. */
@ApiTags('jobs')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong API key or token', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not a partner', ...ERROR_RESPONSE })
@ApiResponse({ status: 429, description: 'too many requests; retry after Retry-After seconds', ...ERROR_RESPONSE })
@Roles('partner')
@UseGuards(AuthGuard)
@Controller('v1/jobs')
export class JobsHttpController {
  constructor(private readonly jobs: JobsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Submit a job on uploaded objects; the scheduler checks the model against the data first' })
  @ApiBody({ schema: openApiSchema(SubmitJobBody) })
  @ApiResponse({ status: 201, description: 'accepted (or the same job submitted again)', schema: status })
  @ApiResponse({ status: 400, description: 'invalid request, or the scheduler refused the job (job.rejected)', ...ERROR_RESPONSE })
  @ApiResponse({ status: 409, description: 'the job id is already used by a different job', ...ERROR_RESPONSE })
  @ApiResponse({ status: 503, description: 'the scheduler is not answering', ...ERROR_RESPONSE })
  submit(@PartnerId() partnerId: string, @JsonBody(SubmitJobBody) body: SubmitJobBody) {
    return this.jobs.submit(partnerId, body);
  }

  @Get()
  @ApiOperation({ summary: "The partner's own jobs, newest first, with shard counts and what each cost (base units of WEBI, as strings)" })
  @ApiQuery({ name: 'limit', required: false, description: 'jobs per page, 1 to 100 (default 20)' })
  @ApiQuery({ name: 'offset', required: false, description: 'jobs to skip: the nextOffset of the previous page (default 0)' })
  @ApiResponse({ status: 200, schema: openApiSchema(JobListSchema) })
  @ApiResponse({ status: 400, description: 'a bad or unknown query parameter', ...ERROR_RESPONSE })
  list(@PartnerId() partnerId: string, @Query(new QueryPipe(JobListQuery)) query: z.infer<typeof JobListQuery>) {
    return this.jobs.list(partnerId, query.limit ?? 20, query.offset ?? 0);
  }

  @Get(':jobId')
  @ApiOperation({ summary: 'Where a job stands, and what it cost so far' })
  @ApiParam(JOB_ID)
  @ApiResponse({ status: 200, schema: status })
  @ApiResponse({ status: 404, description: 'no such job of this partner', ...ERROR_RESPONSE })
  get(@PartnerId() partnerId: string, @Param('jobId', JobIdParam) jobId: string) {
    return this.jobs.statusWithCost(partnerId, jobId);
  }

  @Post(':jobId/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a running job' })
  @ApiParam(JOB_ID)
  @ApiBody({ schema: openApiSchema(CancelJobBody) })
  @ApiResponse({ status: 200, schema: status })
  @ApiResponse({ status: 404, description: 'no such job of this partner', ...ERROR_RESPONSE })
  @ApiResponse({ status: 409, description: 'the job already ended', ...ERROR_RESPONSE })
  cancel(@PartnerId() partnerId: string, @Param('jobId', JobIdParam) jobId: string, @JsonBody(CancelJobBody) body: CancelJobBody) {
    return this.jobs.cancel(partnerId, jobId, body.reason);
  }
}
