/* global Chart, document, setInterval, setTimeout -- a browser module */
import { api, el, follow, requireRole, showError } from './session.js';

const me = requireRole('operator');
const lastHeartbeat = new Map();
let nodes = [];
let throughputChart;

/** Shards validated and jobs completed per minute over the last hour, from the gateway's projection. */
async function loadThroughput() {
  const { minutes } = await api('/v1/operator/throughput');
  const labels = minutes.map((m) => new Date(m.at).toISOString().slice(11, 16));
  const shards = minutes.map((m) => m.shardsValidated);
  const jobs = minutes.map((m) => m.jobsCompleted);
  if (!throughputChart) {
    throughputChart = new Chart(document.querySelector('#throughput-chart'), {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'shards validated / min', data: shards, borderColor: '#2457c5', pointRadius: 2, borderWidth: 2, tension: 0.2 },
          { label: 'jobs completed / min', data: jobs, borderColor: '#2e9d57', pointRadius: 2, borderWidth: 2, tension: 0.2 },
        ],
      },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  } else {
    throughputChart.data.labels = labels;
    throughputChart.data.datasets[0].data = shards;
    throughputChart.data.datasets[1].data = jobs;
    throughputChart.update('none');
  }
  const box = document.querySelector('#throughput-box');
  box.dataset.points = String(minutes.length);
  box.dataset.max = String(Math.max(0, ...shards));
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  document.querySelector('#throughput-total').textContent = `Last hour: ${sum(shards)} shards validated, ${sum(jobs)} jobs completed.`;
}

function renderNodes() {
  const classes = new Map();
  for (const n of nodes) {
    for (const c of n.capabilityClasses) {
      const v = classes.get(c) ?? { nodes: 0, online: 0, available: 0, quarantined: 0 };
      v.nodes++;
      if (n.online) v.online++;
      if (n.online && n.available && !n.quarantineReason) v.available++;
      if (n.quarantineReason) v.quarantined++;
      classes.set(c, v);
    }
  }
  document.querySelector('#classes').replaceChildren(...[...classes].sort().map(([c, v]) => el('tr', { 'data-class': c }, el('td', { class: 'mono' }, c), el('td', {}, v.nodes), el('td', {}, v.online), el('td', {}, v.available), el('td', {}, v.quarantined))));
  document.querySelector('#nodes').replaceChildren(
    ...nodes.map((n) => {
      const quarantined = n.quarantineReason !== null;
      const action = el('button', { type: 'button', 'data-action': quarantined ? 'release' : 'quarantine' }, quarantined ? 'Release' : 'Quarantine');
      action.addEventListener('click', () => void act(n.nodeId, quarantined ? 'release' : 'quarantine'));
      const hb = lastHeartbeat.get(n.nodeId);
      return el(
        'tr',
        { 'data-node': n.nodeId },
        el('td', { class: 'mono' }, n.nodeId),
        el('td', { class: 'mono' }, n.ownerId),
        el('td', {}, n.capabilityClasses.join(', ')),
        el('td', { 'data-testid': 'node-state' }, quarantined ? `quarantined: ${n.quarantineReason}` : n.online ? (n.available ? 'available' : 'online, unavailable') : 'offline'),
        el('td', {}, hb ? `${hb.at.toLocaleTimeString()} · ${hb.activeShards}/${hb.slots} slots${hb.allowsWork ? '' : ' · yielding'}` : '—'),
        el('td', {}, action),
      );
    }),
  );
}

async function loadNodes() {
  try {
    nodes = await api('/v1/operator/nodes');
    renderNodes();
    showError(document.querySelector('#nodes-error'), null);
  } catch (error) {
    showError(document.querySelector('#nodes-error'), error);
  }
}

async function act(nodeId, verb) {
  try {
    await api(`/v1/operator/nodes/${encodeURIComponent(nodeId)}/${verb}`, { method: 'POST', json: { reason: document.querySelector('#action-reason').value.trim() || `operator ${verb}` } });
    await loadNodes();
  } catch (error) {
    showError(document.querySelector('#nodes-error'), error);
  }
}

// The event browser: one event at a time, read from the stream by sequence a page at a time.
const browser = { stream: null, entries: [], index: 0, firstSeq: 1, lastSeq: 0 };
const browseError = document.querySelector('#browse-error');

async function loadQueues() {
  const q = await api('/v1/operator/queues');
  document.querySelector('#queue-subjects').replaceChildren(...q.subjects.map((s) => el('tr', { 'data-subject': s.subject }, el('td', { class: 'mono' }, s.subject), el('td', {}, s.waiting))));
  document.querySelector('#queue-consumers').replaceChildren(...q.consumers.map((c) => el('tr', {}, el('td', { class: 'mono' }, c.name), el('td', { class: 'mono' }, c.filter ?? '—'), el('td', {}, c.pending), el('td', {}, c.inProgress), el('td', {}, c.redelivered))));
}

async function loadPage(stream, from, since) {
  const query = since ? `since=${encodeURIComponent(since)}` : `from=${from}`;
  const page = await api(`/v1/operator/streams/${encodeURIComponent(stream)}/messages?${query}`);
  Object.assign(browser, { stream, entries: page.entries, index: 0, firstSeq: page.firstSeq, lastSeq: page.lastSeq });
  document.querySelector('#stream-info').textContent = `${stream}: sequences ${page.firstSeq}–${page.lastSeq}`;
}

function showEvent() {
  const entry = browser.entries[browser.index];
  const box = document.querySelector('#event');
  box.hidden = !entry;
  if (!entry) {
    showError(browseError, { message: `no message at or after that sequence in ${browser.stream}` });
    return;
  }
  showError(browseError, null);
  document.querySelector('#event-seq').textContent = entry.seq;
  document.querySelector('#event-subject').textContent = entry.subject;
  document.querySelector('#event-time').textContent = entry.time;
  document.querySelector('#event-type').textContent = entry.data?.type ?? entry.headers['Weai-Type'] ?? '';
  document.querySelector('#event-body').textContent = JSON.stringify({ headers: entry.headers, data: entry.data ?? `(${entry.size} bytes, not JSON)` }, null, 2);
  document.querySelector('#from-seq').value = entry.seq;
  document.querySelector('#prev').disabled = entry.seq <= browser.firstSeq;
  document.querySelector('#next').disabled = entry.seq >= browser.lastSeq;
}

async function step(delta) {
  try {
    const entry = browser.entries[browser.index];
    if (!entry) return;
    const next = browser.index + delta;
    if (next >= 0 && next < browser.entries.length) browser.index = next;
    else if (delta > 0) await loadPage(browser.stream, entry.seq + 1);
    else {
      // Back past the page: load the page that ends just before it.
      const from = Math.max(browser.firstSeq, entry.seq - 100);
      await loadPage(browser.stream, from);
      browser.index = Math.max(0, browser.entries.findIndex((e) => e.seq >= entry.seq) - 1);
    }
    showEvent();
  } catch (error) {
    showError(browseError, error);
  }
}

if (me) {
  document.querySelector('#ledger-check').addEventListener('click', async () => {
    const out = document.querySelector('#ledger-result');
    out.hidden = false;
    out.textContent = 'checking…';
    try {
      out.textContent = JSON.stringify(await api('/v1/operator/ledger/check'), null, 2);
    } catch (error) {
      out.textContent = `${error.code}: ${error.message}`;
    }
  });
  document.querySelector('#browse-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      try {
        const since = document.querySelector('#since').value.trim();
        document.querySelector('#since').value = '';
        await loadPage(document.querySelector('#stream').value, Math.max(1, Number(document.querySelector('#from-seq').value) || 1), since);
        showEvent();
      } catch (error) {
        showError(browseError, error);
      }
    })();
  });
  document.querySelector('#next').addEventListener('click', () => void step(1));
  document.querySelector('#prev').addEventListener('click', () => void step(-1));
  try {
    const streams = await api('/v1/operator/streams');
    document.querySelector('#stream').replaceChildren(...streams.map((s) => el('option', { value: s.name }, `${s.name} (${s.messages})`)));
  } catch (error) {
    showError(browseError, error);
  }
  await loadNodes();
  await loadQueues().catch((error) => showError(document.querySelector('#nodes-error'), error));
  setInterval(() => void loadQueues().catch(() => undefined), 5000);
  const throughputError = document.querySelector('#throughput-error');
  const refreshThroughput = () =>
    loadThroughput().then(
      () => showError(throughputError, null),
      (error) => showError(throughputError, error),
    );
  await refreshThroughput();
  setInterval(() => void refreshThroughput(), 10_000);
  // Redrawn at most every 300 ms however fast heartbeats come; a node event re-reads the list.
  let redraw = null;
  let reread = false;
  follow(
    '/v1/operator/live',
    (type, data) => {
      if (type === 'heartbeat') lastHeartbeat.set(data.nodeId, { ...data, at: new Date() });
      if (type === 'node') reread = true;
      redraw ??= setTimeout(() => {
        redraw = null;
        if (reread) void loadNodes();
        else renderNodes();
        reread = false;
      }, 300);
    },
    { onState: (state, error) => (document.querySelector('#live-state').textContent = state === 'open' ? '● live' : `○ ${state}${error ? `: ${error.message}` : ''}`) },
  );
  document.body.dataset.ready = 'true';
}
