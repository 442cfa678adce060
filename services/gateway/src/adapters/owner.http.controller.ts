import { Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Id } from '@weai/contracts';
import type { z } from 'zod';
import { OwnerService } from '../application/owner.service';
import { AuthGuard, CurrentPrincipal, Roles } from '../auth/auth.guard';
import type { Principal } from '../auth/tokens';
import { JsonBody, ParamPipe, QueryPipe } from '../http/body';
import { ERROR_RESPONSE, EarningsQuery, EarningsSchema, EnrolNodeBody, EnrolledNodeSchema, NodeActionBody, NodeSchema, WithdrawBody, openApiSchema } from '../http/schemas';

const NodeIdParam = new ParamPipe('nodeId', Id);

/** A node owner's earnings, withdrawals and nodes. The owner is the token's subject; no route takes an owner id. */
@ApiTags('owner')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'missing, expired or forged token', ...ERROR_RESPONSE })
@ApiResponse({ status: 403, description: 'not an owner', ...ERROR_RESPONSE })
@ApiResponse({ status: 429, description: 'too many requests; retry after Retry-After seconds', ...ERROR_RESPONSE })
@ApiResponse({ status: 503, description: 'the rewards, nodes or security service is not answering', ...ERROR_RESPONSE })
@Roles('owner')
@UseGuards(AuthGuard)
@Controller('v1/owner')
export class OwnerHttpController {
  constructor(private readonly owner: OwnerService) {}

  @Get('earnings')
  @ApiOperation({ summary: 'Available and in-flight balances, withdrawals and the newest history entries (base units of WEBI)' })
  @ApiQuery({ name: 'limit', required: false, description: 'history entries, 1-1000 (default 100)', schema: { type: 'integer', minimum: 1, maximum: 1000 } })
  @ApiResponse({ status: 200, schema: openApiSchema(EarningsSchema) })
  @ApiResponse({ status: 400, description: 'a bad or unknown query parameter', ...ERROR_RESPONSE })
  earnings(@CurrentPrincipal() owner: Principal, @Query(new QueryPipe(EarningsQuery)) query: z.infer<typeof EarningsQuery>) {
    return this.owner.earnings(owner.id, query.limit ?? 100);
  }

  @Post('withdrawals')
  @HttpCode(201)
  @ApiOperation({ summary: 'Withdraw to the payout address: the amount is held in flight until paid on chain (WithdrawalRequested)' })
  @ApiBody({ schema: openApiSchema(WithdrawBody) })
  @ApiResponse({ status: 201, description: 'the withdrawal: id, amount, status, voucher nonce and deadline' })
  @ApiResponse({ status: 400, description: 'a bad amount or one below the minimum', ...ERROR_RESPONSE })
  @ApiResponse({ status: 409, description: 'more than the available balance, no payout address known, or the withdrawal id reused for another amount', ...ERROR_RESPONSE })
  withdraw(@CurrentPrincipal() owner: Principal, @JsonBody(WithdrawBody) body: WithdrawBody) {
    return this.owner.withdraw(owner.id, body.amount, body.withdrawalId);
  }

  @Post('nodes')
  @HttpCode(201)
  @ApiOperation({ summary: "Enrol a node's key on the bus: the security service issues it a node credential for these capability classes (docs/agent.md)" })
  @ApiBody({ schema: openApiSchema(EnrolNodeBody) })
  @ApiResponse({ status: 201, schema: openApiSchema(EnrolledNodeSchema) })
  @ApiResponse({ status: 400, description: 'not a public nkey, or an unknown capability class', ...ERROR_RESPONSE })
  @ApiResponse({ status: 409, description: 'the key was revoked (a revoked node needs a new key), or another owner enrolled it', ...ERROR_RESPONSE })
  enrolNode(@CurrentPrincipal() owner: Principal, @JsonBody(EnrolNodeBody) body: EnrolNodeBody) {
    // Any signed-in owner may enrol a key; the credential records which, and the node is bound to a payout address when it registers.
    return this.owner.enrolNode(owner.id, body);
  }

  @Post('nodes/:nodeId/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: "Revoke one of the owner's nodes on the bus (stolen or retired), registered to it or enrolled by it: its connection is cut and its key refused from then on" })
  @ApiParam({ name: 'nodeId', description: "the node's opaque id", schema: openApiSchema(Id) })
  @ApiBody({ schema: openApiSchema(NodeActionBody) })
  @ApiResponse({ status: 200, description: 'whether this call revoked it (false: it already was)', schema: { type: 'object', properties: { nodeId: { type: 'string' }, revoked: { type: 'boolean' } } } })
  @ApiResponse({ status: 404, description: "no such node of this owner's (neither registered to it nor enrolled by it), or it was never enrolled", ...ERROR_RESPONSE })
  revokeNode(@CurrentPrincipal() owner: Principal, @Param('nodeId', NodeIdParam) nodeId: string, @JsonBody(NodeActionBody) body: NodeActionBody) {
    return this.owner.revokeNode(owner.id, nodeId, body.reason);
  }

  @Get('nodes')
  @ApiOperation({ summary: "The owner's nodes: capabilities, liveness, quarantine" })
  @ApiResponse({ status: 200, schema: { type: 'array', items: openApiSchema(NodeSchema) } })
  nodes(@CurrentPrincipal() owner: Principal) {
    return this.owner.nodes(owner.id);
  }
}
