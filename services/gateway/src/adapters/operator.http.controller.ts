import { Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Id } from '@weai/contracts';
import { OperatorService } from '../application/operator.service';
import { AuthGuard, CurrentPrincipal, Roles } from '../auth/auth.guard';
import type { Principal } from '../auth/tokens';
import { JsonBody, ParamPipe } from '../http/body';
import { ERROR_RESPONSE, NodeActionBody, NodeSchema, openApiSchema } from '../http/schemas';

const NODE_ID = { name: 'nodeId', description: "the node's opaque id", schema: openApiSchema(Id) };
const NodeIdParam = new ParamPipe('nodeId', Id);
const ACTION = { status: 200, description: 'the events the command recorded', schema: { type: 'object', properties: { nodeId: { type: 'string' }, events: { type: 'array', items: { type: 'string' } } } } } as const;

/** Operators: the node network and the ledger check. The operator id recorded on a command is the token's subject. */
@ApiTags('operator')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing, expired or forged token or key', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not an operator', ...ERROR_RESPONSE })
@ApiResponse({ status: 429, description: 'too many requests; retry after Retry-After seconds', ...ERROR_RESPONSE })
@ApiResponse({ status: 503, description: 'the nodes or rewards service is not answering', ...ERROR_RESPONSE })
@Roles('operator')
@UseGuards(AuthGuard)
@Controller('v1/operator')
export class OperatorHttpController {
  constructor(private readonly operator: OperatorService) {}

  @Get('nodes')
  @ApiOperation({ summary: 'Every node: owner, capabilities, liveness, quarantine' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: openApiSchema(NodeSchema) } })
  nodes() {
    return this.operator.nodes();
  }

  @Post('nodes/:nodeId/quarantine')
  @HttpCode(200)
  @ApiOperation({ summary: 'Quarantine a node: its results are no longer used and it gets no work' })
  @ApiParam(NODE_ID)
  @ApiBody({ schema: openApiSchema(NodeActionBody) })
  @ApiResponse(ACTION)
  @ApiResponse({ status: 404, description: 'no such node', ...ERROR_RESPONSE })
  @ApiResponse({ status: 409, description: 'already quarantined', ...ERROR_RESPONSE })
  quarantine(@CurrentPrincipal() operator: Principal, @Param('nodeId', NodeIdParam) nodeId: string, @JsonBody(NodeActionBody) body: NodeActionBody) {
    return this.operator.quarantine(operator.id, nodeId, body.reason);
  }

  @Post('nodes/:nodeId/release')
  @HttpCode(200)
  @ApiOperation({ summary: 'Release a quarantined node' })
  @ApiParam(NODE_ID)
  @ApiBody({ schema: openApiSchema(NodeActionBody) })
  @ApiResponse(ACTION)
  @ApiResponse({ status: 404, description: 'no such node', ...ERROR_RESPONSE })
  @ApiResponse({ status: 409, description: 'not quarantined', ...ERROR_RESPONSE })
  release(@CurrentPrincipal() operator: Principal, @Param('nodeId', NodeIdParam) nodeId: string, @JsonBody(NodeActionBody) body: NodeActionBody) {
    return this.operator.release(operator.id, nodeId, body.reason);
  }

  @Get('ledger/check')
  @ApiOperation({ summary: "Replays the rewards service's store and compares it with the live ledger" })
  @ApiResponse({ status: 200, description: "the rewards service's check report" })
  ledgerCheck() {
    return this.operator.ledgerCheck();
  }
}
