import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, HttpCode, Inject, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ObjectsService } from '../application/objects.service';
import { AuthGuard, PartnerId, Roles } from '../auth/auth.guard';
import type { GatewayConfig } from '../config';
import { ApiError } from '../http/api-error';
import { ParamPipe, hasMediaType, readBody } from '../http/body';
import { sendBytes } from '../http/download';
import { ERROR_RESPONSE, HashParam, StoredObject, bytesResponse, openApiSchema } from '../http/schemas';
import { GATEWAY_CONFIG } from '../tokens';

/** Uploads and downloads of content-addressed objects: models, datasets, outputs. */
@ApiTags('objects')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing or wrong API key or token', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not a partner', ...ERROR_RESPONSE })
@ApiResponse({ status: 429, description: 'too many requests; retry after Retry-After seconds', ...ERROR_RESPONSE })
@Roles('partner')
@UseGuards(AuthGuard)
@Controller('v1/objects')
export class ObjectsHttpController {
  constructor(
    private readonly objects: ObjectsService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload a model (ONNX) or a dataset (WEAT tensor); answers its SHA-256' })
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 201, description: 'stored (or already there)', schema: openApiSchema(StoredObject) })
  @ApiResponse({ status: 400, description: 'empty body', ...ERROR_RESPONSE })
  @ApiResponse({ status: 413, description: 'larger than GATEWAY_MAX_UPLOAD_BYTES', ...ERROR_RESPONSE })
  @ApiResponse({ status: 415, description: 'not application/octet-stream', ...ERROR_RESPONSE })
  async upload(@PartnerId() partnerId: string, @Req() req: IncomingMessage) {
    if (!hasMediaType(req, 'application/octet-stream')) {
      throw new ApiError(415, 'unsupported-media-type', `upload the bytes with Content-Type: application/octet-stream (got ${req.headers['content-type'] ?? 'none'})`);
    }
    return this.objects.upload(partnerId, await readBody(req, this.config.maxUploadBytes, 'the upload'));
  }

  @Get(':hash')
  @ApiOperation({ summary: 'Download an object by its SHA-256: one this partner uploaded, or the output of one of its jobs' })
  @ApiParam({ name: 'hash', description: 'lowercase hex SHA-256', schema: openApiSchema(HashParam) })
  @ApiResponse(bytesResponse(200, 'the bytes; ETag and X-Content-SHA256 carry the hash'))
  @ApiResponse({ status: 404, description: 'no such object of this partner (another partner\'s object answers the same)', ...ERROR_RESPONSE })
  async download(@PartnerId() partnerId: string, @Param('hash', new ParamPipe('hash', HashParam)) hash: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    sendBytes(req, res, hash, await this.objects.downloadAs(partnerId, hash));
  }
}
