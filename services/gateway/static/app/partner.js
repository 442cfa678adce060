/* global URL, clearTimeout, document, sessionStorage, setTimeout -- a browser module */
import { api, el, follow, requireRole, showError } from './session.js';

const me = requireRole('partner');
const JOBS_KEY = 'weai.partner.jobs';
const TERMINAL = ['JobCompleted', 'JobFailed', 'JobCancelled'];
const known = () => JSON.parse(sessionStorage.getItem(JOBS_KEY) ?? '[]');
const remember = (id) => sessionStorage.setItem(JOBS_KEY, JSON.stringify([id, ...known().filter((j) => j !== id)].slice(0, 50)));
let current = null;

async function renderJobs() {
  const rows = await Promise.all(
    known().map(async (id) => {
      try {
        return await api(`/v1/jobs/${encodeURIComponent(id)}`);
      } catch (error) {
        return { jobId: id, status: error.code, shardCount: 0, shardsValidated: 0 };
      }
    }),
  );
  document.querySelector('#jobs').replaceChildren(
    ...rows.map((j) => {
      const open = el('button', { type: 'button' }, 'Show');
      open.addEventListener('click', () => openJob(j.jobId));
      return el('tr', { 'data-job': j.jobId }, el('td', { class: 'mono' }, j.jobId), el('td', {}, j.status), el('td', {}, `${j.shardsValidated}/${j.shardCount}`), el('td', {}, open));
    }),
  );
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
  remember(jobId);
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
  remember(status.jobId);
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
  await renderJobs();
  document.body.dataset.ready = 'true';
}
