import { Module, type DynamicModule, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { EventStore } from '@weai/eventstore';
import { type Bus, ProjectionRunner } from '@weai/messaging';
import { BUS, CLOCK, type Clock, EVENT_STORE, EventSourcingModule, READ_MODEL, type ServiceConfig } from '@weai/runtime';
import { RewardAccrual } from './application/accrual';
import { LedgerAudit } from './application/audit';
import { AccountEntity, CreateRewardsLedger1764500000001, LedgerQueries, PostingEntity, WithdrawalEntity, ledgerProjection } from './application/ledger.read-model';
import { CreateRewardNodes1764500000000, NodeDirectory, PayoutAddressEntity, RewardNodeEntity, nodeDirectoryProjection } from './application/node-directory';
import { OwnerLedger } from './application/owner-ledger';
import type { PayoutChain } from './application/payout-chain';
import { type SagaHooks, type SagaOptions, WithdrawalSaga } from './application/withdrawal-saga';
import { type WithdrawalOptions, WithdrawalRequests } from './application/withdrawals';
import type { RewardPolicy } from './domain/policy';
import { AccrualMessageController } from './adapters/accrual.message.controller';
import { LedgerMessageController } from './adapters/ledger.message.controller';
import { ProjectionsLifecycle } from './adapters/projections.lifecycle';
import { PROJECTIONS } from './adapters/tokens';
import { WithdrawalEventsMessageController } from './adapters/withdrawal-events.message.controller';
import { WithdrawalsMessageController } from './adapters/withdrawals.message.controller';

/** What the rewards service runs with besides the event-sourcing plumbing. */
export interface RewardsOptions {
  readonly policy: RewardPolicy;
  readonly withdrawals: WithdrawalOptions;
  /** The chain the saga pays on; closed when the service shuts down. */
  readonly chain: PayoutChain;
  /** Saga timing; defaults suit a public chain (2-minute waits, 10-minute runs). */
  readonly saga?: Partial<Omit<SagaOptions, 'now'>>;
  /** Crash points for tests. */
  readonly hooks?: SagaHooks;
}

const DEFAULT_SAGA = { waitTimeoutMs: 120_000, pollMs: 5_000, budgetMs: 600_000 };

const readModelProviders: Provider[] = [
  {
    provide: PROJECTIONS,
    useFactory: (dataSource: DataSource, bus: Bus) => [ledgerProjection, nodeDirectoryProjection].map((projection) => new ProjectionRunner({ dataSource, js: bus.js, projection })),
    inject: [READ_MODEL, BUS],
  },
  { provide: NodeDirectory, useFactory: (ds: DataSource, bus: Bus) => new NodeDirectory(ds, bus.jsm), inject: [READ_MODEL, BUS] },
  { provide: LedgerQueries, useFactory: (ds: DataSource) => new LedgerQueries(ds), inject: [READ_MODEL] },
  { provide: LedgerAudit, useFactory: (store: EventStore, queries: LedgerQueries) => new LedgerAudit(store, queries), inject: [EVENT_STORE, LedgerQueries] },
  ProjectionsLifecycle,
];

/** Closes the chain connection once the saga's consumer has stopped (the transport closes before shutdown hooks run). */
class ChainLifecycle implements OnApplicationShutdown {
  constructor(private readonly chain: PayoutChain) {}
  onApplicationShutdown(): void {
    this.chain.close?.();
  }
}

/** The rewards service: accrual, the owners' ledger, withdrawals paid on chain. */
@Module({})
export class RewardsModule {
  static create(config: ServiceConfig, bus: Bus, options: RewardsOptions): DynamicModule {
    const saga = { ...DEFAULT_SAGA, ...options.saga };
    return {
      module: RewardsModule,
      imports: [
        EventSourcingModule.forService({
          config,
          bus,
          readModelMigrations: [CreateRewardNodes1764500000000, CreateRewardsLedger1764500000001],
          readModelEntities: [RewardNodeEntity, PayoutAddressEntity, AccountEntity, PostingEntity, WithdrawalEntity],
        }),
      ],
      controllers: [AccrualMessageController, WithdrawalEventsMessageController, WithdrawalsMessageController, LedgerMessageController],
      providers: [
        ...readModelProviders,
        { provide: ChainLifecycle, useFactory: () => new ChainLifecycle(options.chain) },
        { provide: OwnerLedger, useFactory: (store: EventStore) => new OwnerLedger(store), inject: [EVENT_STORE] },
        { provide: RewardAccrual, useFactory: (ledger: OwnerLedger, nodes: NodeDirectory) => new RewardAccrual(ledger, nodes, options.policy), inject: [OwnerLedger, NodeDirectory] },
        {
          provide: WithdrawalRequests,
          useFactory: (ledger: OwnerLedger, nodes: NodeDirectory) => new WithdrawalRequests(ledger, nodes, options.withdrawals),
          inject: [OwnerLedger, NodeDirectory],
        },
        {
          provide: WithdrawalSaga,
          useFactory: (ledger: OwnerLedger, clock: Clock) => new WithdrawalSaga(ledger, options.chain, { ...saga, now: () => clock.now() }, options.hooks),
          inject: [OwnerLedger, CLOCK],
        },
      ],
    };
  }
}
