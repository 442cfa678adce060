/* global Chart, clearTimeout, document, setTimeout -- a browser module */
import { api, el, follow, requireRole, showError, webi } from './session.js';

const me = requireRole('owner');
const pageError = document.querySelector('#page-error');
/** Per node and metric, its Chart.js chart; one dataset per GPU. */
const charts = new Map();
const latest = new Map();
let nodes = [];
let earningsChart;

const METRICS = [
  { key: 'utilizationPct', title: 'GPU utilisation (%)', max: 100 },
  { key: 'temperatureC', title: 'Temperature (°C)' },
  { key: 'powerDrawW', title: 'Power (W)' },
];

function policyOf(sample) {
  if (!sample) return 'no heartbeat yet';
  if (!sample.allowsWork) return `yielding: ${sample.reason ?? 'the owner is using the machine'}`;
  return sample.activeShards > 0 ? `working (${sample.activeShards} of ${sample.slots} slots)` : `idle, taking work (${sample.slots} slots)`;
}

function renderNodes() {
  document.querySelector('#nodes').replaceChildren(
    ...nodes.map((n) =>
      el(
        'tr',
        { 'data-node': n.nodeId },
        el('td', { class: 'mono' }, n.nodeId),
        el('td', {}, n.capabilityClasses.join(', ')),
        el('td', {}, n.online ? (n.available ? 'online, available' : 'online, unavailable') : 'offline'),
        el('td', { 'data-testid': 'policy' }, policyOf(latest.get(n.nodeId))),
        el('td', {}, n.quarantineReason ?? '—'),
      ),
    ),
  );
}

function chartFor(nodeId, metric) {
  const key = `${nodeId}/${metric.key}`;
  let entry = charts.get(key);
  if (entry) return entry;
  const canvas = el('canvas');
  const box = el('div', { class: 'chart', 'data-testid': `gpu-chart-${metric.key}`, 'data-node': nodeId, 'data-points': 0 }, canvas);
  document.querySelector('#charts').append(el('div', {}, el('div', { class: 'muted' }, `${metric.title} · node ${nodeId.slice(0, 12)}…`), box));
  const chart = new Chart(canvas, {
    type: 'line',
    data: { labels: [], datasets: [] },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ...(metric.max ? { max: metric.max } : {}) } }, plugins: { legend: { display: true } } },
  });
  entry = { chart, box, metric };
  charts.set(key, entry);
  return entry;
}

/** Appends one heartbeat to the node's charts (one point per GPU per metric). */
function plot(sample, redraw = true) {
  latest.set(sample.nodeId, sample);
  if (sample.gpus.length === 0) return;
  document.querySelector('#no-gpus').hidden = true;
  for (const metric of METRICS) {
    const { chart, box } = chartFor(sample.nodeId, metric);
    chart.data.labels.push(new Date(sample.at).toLocaleTimeString());
    sample.gpus.forEach((gpu, i) => {
      let ds = chart.data.datasets.find((d) => d.label === gpu.uuid);
      if (!ds) {
        ds = { label: gpu.uuid, data: Array(chart.data.labels.length - 1).fill(null), pointRadius: 0, borderWidth: 2, tension: 0.2, borderColor: ['#2457c5', '#c77700', '#2e9d57', '#b3261e'][i % 4] };
        chart.data.datasets.push(ds);
      }
      ds.data.push(gpu[metric.key]);
    });
    if (chart.data.labels.length > 720) {
      chart.data.labels.shift();
      for (const ds of chart.data.datasets) ds.data.shift();
    }
    box.dataset.points = String(chart.data.labels.length);
    if (redraw) chart.update('none');
  }
}

async function loadTelemetry() {
  const { nodes: list, samples } = await api('/v1/owner/telemetry');
  nodes = list;
  for (const entry of charts.values()) {
    entry.chart.data.labels = [];
    entry.chart.data.datasets = [];
  }
  for (const nodeId of Object.keys(samples)) for (const s of samples[nodeId]) plot(s, false);
  for (const { chart } of charts.values()) chart.update('none');
  document.querySelector('#no-gpus').hidden = charts.size > 0;
  renderNodes();
}

async function loadEarnings() {
  const e = await api('/v1/owner/earnings?limit=1000');
  document.querySelector('#available').textContent = webi(e.available);
  document.querySelector('#available-base').textContent = `${e.available} base units`;
  document.querySelector('#in-flight').textContent = webi(e.inFlight);
  document.querySelector('#withdrawals').replaceChildren(
    ...e.withdrawals.map((w) =>
      el('tr', { 'data-withdrawal': w.withdrawalId }, el('td', { class: 'mono' }, w.withdrawalId), el('td', {}, webi(w.amount)), el('td', { 'data-testid': 'withdrawal-status' }, w.status + (w.reason ? `: ${w.reason}` : '')), el('td', { class: 'mono' }, w.txHash ?? '—'), el('td', {}, new Date(w.requestedAt).toLocaleString())),
    ),
  );
  const rewards = e.history.filter((h) => h.kind === 'reward');
  const byDay = new Map();
  const byNode = new Map();
  for (const r of rewards) {
    const day = r.at.slice(0, 10);
    byDay.set(day, (byDay.get(day) ?? 0n) + BigInt(r.amount));
    const n = byNode.get(r.nodeId ?? '?') ?? { count: 0, sum: 0n };
    byNode.set(r.nodeId ?? '?', { count: n.count + 1, sum: n.sum + BigInt(r.amount) });
  }
  const days = [...byDay.keys()].sort();
  const data = days.map((d) => Number(byDay.get(d)) / 1e18);
  if (!earningsChart) {
    earningsChart = new Chart(document.querySelector('#earnings-chart'), { type: 'bar', data: { labels: days, datasets: [{ label: 'WEBI earned', data, backgroundColor: '#2457c5' }] }, options: { animation: false, maintainAspectRatio: false } });
  } else {
    earningsChart.data.labels = days;
    earningsChart.data.datasets[0].data = data;
    earningsChart.update('none');
  }
  document.querySelector('#per-node').replaceChildren(...[...byNode].map(([node, v]) => el('tr', {}, el('td', { class: 'mono' }, node), el('td', {}, v.count), el('td', {}, webi(v.sum)))));
}

async function guarded(action) {
  try {
    await action();
    showError(pageError, null);
  } catch (error) {
    showError(pageError, error);
  }
}

if (me) {
  document.querySelector('#withdraw-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const box = document.querySelector('#withdraw-error');
    const amount = document.querySelector('#withdraw-amount').value.trim();
    void (async () => {
      try {
        showError(box, null);
        await api('/v1/owner/withdrawals', { method: 'POST', json: { amount } });
        document.querySelector('#withdraw-amount').value = '';
        await loadEarnings();
      } catch (error) {
        showError(box, error);
      }
    })();
  });
  await Promise.all([guarded(loadTelemetry), guarded(loadEarnings)]);
  let reload;
  follow(
    '/v1/owner/live',
    (type, data) => {
      if (type === 'telemetry') {
        plot(data);
        renderNodes();
      } else if (type === 'ledger') {
        clearTimeout(reload);
        reload = setTimeout(() => void guarded(loadEarnings), 200);
      } else if (type === 'node') void guarded(loadTelemetry);
    },
    { onState: (state, error) => (document.querySelector('#live-state').textContent = state === 'open' ? '● live' : `○ ${state}${error ? `: ${error.message}` : ''}`) },
  );
  document.body.dataset.ready = 'true';
}
