import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, decodeTensor, encodeTensor, float32Tensor } from '@weai/tensors';
import { randomUUID } from 'node:crypto';
import type { JobStatus } from '@weai/contracts';
import type { JobRequest } from '@weai/sdk';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { type EventLog } from './events';
import { ROOT } from './processes';

/** A deterministic float32 dataset of `items` × `width` (values in [-1, 1)). */
export function dataset(items: number, width: number, seed = 7): Tensor {
  let s = seed >>> 0;
  const values = Array.from({ length: items * width }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 31 - 1;
  });
  return float32Tensor([items, width], values);
}

/** The model run over the dataset in one plain node process, shard by shard (the batches the network runs). */
export function runLocally(model: Uint8Array, input: Tensor, shardSize: number): Tensor {
  const dir = mkdtempSync(join(tmpdir(), 'weai-ref-'));
  try {
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, 'input.weat'), encodeTensor(input));
    execFileSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'test/support/run-model.ts'), join(dir, 'model.onnx'), join(dir, 'input.weat'), String(shardSize), join(dir, 'out.weat')], { cwd: ROOT });
    return decodeTensor(readFileSync(join(dir, 'out.weat')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What both partner clients (over NATS and over HTTP) offer for a submission. */
interface Submitter {
  uploadModel(onnx: Uint8Array): Promise<string>;
  uploadDataset(dataset: Tensor): Promise<string>;
  submit(modelHash: string, inputHash: string, job: JobRequest): Promise<JobStatus>;
}

/**
 * Submits the reference model over `dataset(items, 64, seed)` as a cpu.generic job of 4-item shards
 * (spot-checked at 10 %), and awaits its JobCompleted or JobFailed in the jobs stream.
 */
export async function runReferenceJob(partner: Submitter, jobs: EventLog, items: number, seed: number): Promise<{ jobId: string; ended: 'JobCompleted' | 'JobFailed' }> {
  const jobId = `job-${randomUUID()}`;
  await partner.submit(await partner.uploadModel(referenceMlp()), await partner.uploadDataset(dataset(items, 64, seed)), {
    jobId,
    shardSize: 4,
    capability: 'cpu.generic',
    deadline: new Date(Date.now() + 3_600_000).toISOString(),
    redundancy: { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 },
  });
  const end = await jobs.until(`job ${jobId} to end`, (events) => events.find((e) => (e.type === 'JobCompleted' || e.type === 'JobFailed') && e.data.jobId === jobId), 150_000);
  return { jobId, ended: end.type as 'JobCompleted' | 'JobFailed' };
}
