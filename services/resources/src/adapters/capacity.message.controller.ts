import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { RESOURCES_RPC, isCapabilityClass } from '@weai/contracts';
import { OnRequest } from '@weai/messaging';
import { READ_MODEL } from '@weai/runtime';
import { CapacityClassEntity } from '../application/capacity.read-model';
import { serves } from '../domain/capacity';

/** Request subjects of the resources service (defined in the contracts, where clients find them). */
export { RESOURCES_RPC };

const MatchRequest = z.object({ requires: z.string().refine(isCapabilityClass, 'must be a capability class such as cuda.sm75.vram8 or cpu.avx2') }).strict();

/** Queries on the capacity index. */
@Controller()
export class CapacityMessageController {
  constructor(@Inject(READ_MODEL) private readonly readModel: DataSource) {}

  /** Every class with its online and available node counts and available throughput. */
  @OnRequest(RESOURCES_RPC.capacity, { queue: 'resources' })
  capacity() {
    return this.readModel.getRepository(CapacityClassEntity).find({ order: { capabilityClass: 'ASC' } });
  }

  /** The classes whose nodes can run a shard that needs `requires`, with free capacity. */
  @OnRequest(RESOURCES_RPC.match, { queue: 'resources' })
  async match(@Payload() body: unknown) {
    const { requires } = MatchRequest.parse(body);
    const all = await this.readModel.getRepository(CapacityClassEntity).find();
    return all.filter((c) => serves(c.capabilityClass, requires) && c.available > 0).sort((a, b) => b.availableScore - a.availableScore);
  }
}
