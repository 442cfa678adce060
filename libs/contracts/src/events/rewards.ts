import { z } from 'zod';
import { defineEvent } from '../event';
import { Amount, Id } from '../metadata';

const family = 'rewards' as const;
const scope = (d: { ownerId: string }) => d.ownerId;

export const RewardAccrued = defineEvent({
  type: 'RewardAccrued',
  family,
  schema: z
    .object({
      ownerId: Id,
      nodeId: Id,
      jobId: Id,
      shardId: Id,
      /** Credited to the owner, in the smallest WEBI unit. */
      amount: Amount,
      /** Retained by the platform. */
      platformFee: Amount,
    })
    .strict(),
  scope,
});

export const WithdrawalRequested = defineEvent({
  type: 'WithdrawalRequested',
  family,
  schema: z.object({ withdrawalId: Id, ownerId: Id, amount: Amount }).strict(),
  scope,
});

export const WithdrawalSettled = defineEvent({
  type: 'WithdrawalSettled',
  family,
  schema: z
    .object({ withdrawalId: Id, ownerId: Id, amount: Amount, txHash: z.string().regex(/^0x[0-9a-f]{64}$/) })
    .strict(),
  scope,
});

export const WithdrawalFailed = defineEvent({
  type: 'WithdrawalFailed',
  family,
  schema: z.object({ withdrawalId: Id, ownerId: Id, amount: Amount, reason: z.string().min(1).max(1024) }).strict(),
  scope,
});

export const REWARD_EVENTS = [RewardAccrued, WithdrawalRequested, WithdrawalSettled, WithdrawalFailed] as const;
