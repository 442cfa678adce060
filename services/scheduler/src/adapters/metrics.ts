/** The scheduler's Prometheus metrics (process registry, served on the health port). No job ids as labels. */
import { Counter } from 'prom-client';

/** Jobs accepted on submission (by any replica: the submit request is answered by one). */
export const jobsSubmitted = new Counter({ name: 'weai_jobs_submitted_total', help: 'Jobs the scheduler accepted' });

/** Jobs that ended, by outcome: counted once per job, by the replica that handles its end event. */
export const jobsFinished = new Counter({ name: 'weai_jobs_finished_total', help: 'Jobs that ended, by status: completed, failed, cancelled', labelNames: ['status'] });
