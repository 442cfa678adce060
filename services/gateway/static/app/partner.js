/* global URL, clearTimeout, document, setInterval, setTimeout -- a browser module */
import { api, el, follow, requireRole, showError, webi } from './session.js';

const me = requireRole('partner');
const TERMINAL = ['JobCompleted', 'JobFailed', 'JobCancelled'];
const PAGE = 20;
let current = null;
let offset = 0;

const time = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** A cost in base units: WEBI shown exactly, the base units in the title and `data-base`. */
function costCell(cost) {
  return el('td', { 'data-testid': 'job-cost', 'data-base': cost.total, title: `${cost.total} base units: ${cost.ownerRewards} to node owners + ${cost.platformFee} platform fee` }, webi(cost.total));
}

/** One page of the partner's own jobs (`GET /v1/jobs`), newest first. */
async function renderJobs() {
  const box = document.querySelector('#jobs-error');
  let page;
  try {
    page = await api(`/v1/jobs?limit=${PAGE}&offset=${offset}`);
    showError(box, null);
  } catch (error) {
    showError(box, error);
    return;
  }
  document.querySelector('#jobs').replaceChildren(
    ...page.jobs.map((j) => {
      const open = el('button', { type: 'button' }, 'Show');
      open.addEventListener('click', () => void openJob(j.jobId));
      const progress = el('div', { class: 'progress' }, el('div', { class: `w-${j.shardCount ? Math.round((10 * j.shardsValidated) / j.shardCount) * 10 : 0}` }));
      return el(
        'tr',
        { 'data-job': j.jobId },
        el('td', { class: 'mono' }, j.jobId),
        el('td', { 'data-testid': 'job-state' }, j.status),
        el('td', { 'data-testid': 'job-shards' }, `${j.shardsValidated}/${j.shardCount}${j.shardsFailed ? ` (${j.shardsFailed} failed)` : ''}`, progress),
        costCell(j.cost),
        el('td', {}, time(j.submittedAt)),
        el('td', {}, time(j.finishedAt)),
        el('td', {}, open),
      );
    }),
  );
  document.querySelector('#newer').disabled = offset === 0;
  document.querySelector('#older').disabled = page.nextOffset === null;
  document.querySelector('#jobs-page').textContent = page.jobs.length ? `jobs ${offset + 1}–${offset + page.jobs.length}` : 'no jobs yet';
}

/** Shard states as the events tell them. */
function shardView() {
  const shards = new Map();
  const get = (i) => {
    if (!shards.has(i)) shards.set(i, { state: 'pending', replicas: new Set(), validation: '', nodes: new Set() });
    return shards.get(i);
  };
  return {
    shards,
    partitioned(count) {
      for (let i = 0; i < count; i++) get(i);
    },
    apply(event) {
      const d = event.data;
      switch (event.type) {
        case 'ShardDispatched':
          Object.assign(get(d.shardIndex), { state: get(d.shardIndex).state === 'pending' ? 'dispatched' : get(d.shardIndex).state }).replicas.add(d.replica);
          break;
        case 'ShardCompleted': {
          const s = get(d.shardIndex);
          s.nodes.add(d.nodeId);
          if (s.state !== 'validated') s.state = 'completed';
          break;
        }
        case 'ShardValidated': {
          const s = get(d.shardIndex);
          s.state = 'validated';
          s.validation = `${d.method}: ${d.accepted.length} accepted${d.rejectedNodeIds.length ? `, ${d.rejectedNodeIds.length} rejected` : ''}`;
          s.compute = d.accepted.reduce((sum, a) => sum + a.computeMs, 0);
          break;
        }
        case 'ShardResultRejected':
          get(d.shardIndex).validation += ` rejected ${d.nodeId.slice(0, 10)}…: ${d.reason}`;
          break;
        case 'ShardFailed':
          Object.assign(get(d.shardIndex), { state: d.retryable ? 'retrying' : 'failed', validation: d.reason });
          break;
        default:
      }
    },
  };
}

function renderStatus(status) {
  document.querySelector('#job-status').textContent = status.status;
  document.querySelector('#job-progress').textContent = `${status.shardsValidated} / ${status.shardCount}`;
  document.querySelector('#job-bar').style.width = `${status.shardCount ? (100 * status.shardsValidated) / status.shardCount : 0}%`;
  document.querySelector('#job-reason').textContent = status.reason ?? '';
  const download = document.querySelector('#download');
  download.disabled = status.status !== 'completed';
  document.querySelector('#output-hash').textContent = status.outputHash ? `sha-256 ${status.outputHash}` : '';
  const cost = status.cost ?? { total: '0', ownerRewards: '0', platformFee: '0' };
  document.querySelector('#job-cost').textContent = webi(cost.total);
  document.querySelector('#job-cost-base').textContent = `${cost.total} base units (${cost.ownerRewards} to node owners + ${cost.platformFee} platform fee)`;
}

async function openJob(jobId) {
  current?.stop();
  const section = document.querySelector('#job');
  section.hidden = false;
  document.querySelector('#job-title').textContent = jobId;
  const errorBox = document.querySelector('#job-error');
  showError(errorBox, null);
  let status;
  try {
    status = await api(`/v1/jobs/${encodeURIComponent(jobId)}`);
  } catch (error) {
    showError(errorBox, error);
    return;
  }
  renderStatus(status);
  const view = shardView();
  const table = document.querySelector('#shards');
  const render = () => {
    table.replaceChildren(
      ...[...view.shards].sort((a, b) => a[0] - b[0]).map(([i, s]) => el('tr', { 'data-shard': i }, el('td', {}, i), el('td', { class: `state-${s.state}` }, s.state), el('td', {}, s.replicas.size), el('td', {}, s.validation), el('td', { class: 'mono' }, [...s.nodes].map((n) => n.slice(0, 10)).join(' ')))),
    );
    const compute = [...view.shards.values()].reduce((sum, s) => sum + (s.compute ?? 0), 0);
    document.querySelector('#job-compute').textContent = `${(compute / 1000).toFixed(2)} s`;
  };
  let refresh;
  const stop = follow(
    `/v1/jobs/${encodeURIComponent(jobId)}/events`,
    (type, event) => {
      view.apply(event);
      if (type === 'JobPartitioned') view.partitioned(event.data.shardCount);
      render();
      clearTimeout(refresh);
      refresh = setTimeout(async () => {
        try {
          renderStatus(await api(`/v1/jobs/${encodeURIComponent(jobId)}`));
          void renderJobs();
        } catch (error) {
          showError(errorBox, error);
        }
      }, TERMINAL.includes(type) ? 0 : 250);
    },
    { resumeWithLastId: true, isLast: (type) => TERMINAL.includes(type), onState: (state, error) => state === 'refused' && showError(errorBox, error) },
  );
  current = { jobId, stop };
}

/** Fetches the output with the token and hands it to the browser as a file. */
async function download() {
  const jobId = current?.jobId;
  if (!jobId) return;
  try {
    const res = await api(`/v1/jobs/${encodeURIComponent(jobId)}/result`, { raw: true });
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: `${jobId}.weat` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    showError(document.querySelector('#job-error'), error);
  }
}

async function submit() {
  const state = document.querySelector('#submit-state');
  const upload = async (input, what) => {
    const file = input.files?.[0];
    if (!file) throw new Error(`choose the ${what} file`);
    state.textContent = `uploading the ${what} (${file.size} bytes)…`;
    return (await api('/v1/objects', { method: 'POST', body: file })).hash;
  };
  const modelHash = await upload(document.querySelector('#model-file'), 'model');
  const inputHash = await upload(document.querySelector('#input-file'), 'dataset');
  state.textContent = 'submitting…';
  const jobId = document.querySelector('#job-id').value.trim();
  const status = await api('/v1/jobs', {
    method: 'POST',
    json: {
      ...(jobId ? { jobId } : {}),
      modelHash,
      inputHash,
      shardSize: Number(document.querySelector('#shard-size').value),
      capability: document.querySelector('#capability').value.trim(),
      deadline: new Date(Date.now() + Number(document.querySelector('#hours').value) * 3_600_000).toISOString(),
      redundancy: { replicas: Number(document.querySelector('#replicas').value), spotCheckRate: 0.1, tolerance: 1e-5 },
    },
  });
  state.textContent = `submitted ${status.jobId}`;
  offset = 0;
  await renderJobs();
  await openJob(status.jobId);
}

if (me) {
  document.querySelector('#download').addEventListener('click', () => void download());
  document.querySelector('#open-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void openJob(document.querySelector('#open-id').value.trim());
  });
  document.querySelector('#submit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const box = document.querySelector('#submit-error');
    showError(box, null);
    submit().catch((error) => showError(box, error));
  });
  document.querySelector('#newer').addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE);
    void renderJobs();
  });
  document.querySelector('#older').addEventListener('click', () => {
    offset += PAGE;
    void renderJobs();
  });
  await renderJobs();
  // Progress comes from job events, costs from the rewards ledger after them: the list is re-read
  // every 5 s, and the open job's status (with its cost) with it.
  setInterval(() => {
    void renderJobs();
    const jobId = current?.jobId;
    if (jobId) api(`/v1/jobs/${encodeURIComponent(jobId)}`).then((status) => current?.jobId === jobId && renderStatus(status), () => undefined);
  }, 5000);
  document.body.dataset.ready = 'true';
}
