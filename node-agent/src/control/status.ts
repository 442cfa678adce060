/**
 * What the owner sees: the agent's status as JSON (`GET /api/status`), as text (`weai-agent
 * status`) and as the local status page (`GET /`). Rendering is pure.
 */
import type { PolicyAction } from '../policy/decide';

/** One GPU as the owner sees it. */
export interface GpuStatus {
  readonly index: number;
  readonly name: string;
  readonly uuid: string;
  readonly utilizationPct: number | null;
  readonly temperatureC: number | null;
  readonly powerDrawW: number | null;
  readonly powerLimitW: number | null;
  readonly vramTotalMb: number;
  readonly vramFreeMb: number;
  /** What the policy decided for this GPU. */
  readonly policy: { readonly action: PolicyAction; readonly rule: string; readonly reason: string };
}

/** A lane: a worker on one device. */
export interface LaneStatus {
  readonly id: string;
  /** "CPU" or "GPU 0 (NVIDIA GeForce RTX 3080)". */
  readonly device: string;
  readonly provider: 'cpu' | 'cuda';
  readonly classes: readonly string[];
  readonly slots: number;
  readonly action: PolicyAction | 'starting';
  readonly rule: string;
  readonly reason: string;
  readonly activeShards: number;
}

/** A shard running now. */
export interface CurrentShard {
  readonly lane: string;
  readonly jobId: string;
  readonly shard: number;
  readonly replica: number;
  readonly startedAt: string;
  readonly runningSeconds: number;
}

/** Everything the status command and page show. */
export interface AgentStatus {
  readonly nodeId: string;
  readonly payoutAddress: string;
  readonly startedAt: string;
  readonly pid: number;
  readonly network: { readonly servers: readonly string[]; readonly connected: boolean; readonly heartbeats: number };
  readonly configFile: string | null;
  readonly logFile: string | null;
  /** The owner's switch (`weai-agent pause` / `resume`). */
  readonly paused: boolean;
  /** What the heartbeat tells the network. */
  readonly allowsWork: boolean;
  readonly reason: string;
  readonly telemetry: { readonly mode: 'gpu' | 'cpu-only'; readonly source: string | null; readonly reason: string | null; readonly warnings: readonly string[] };
  readonly executionProviders: readonly string[];
  readonly capabilityClasses: readonly string[];
  readonly benchmarkScore: number;
  readonly gpus: readonly GpuStatus[];
  readonly lanes: readonly LaneStatus[];
  readonly shards: {
    readonly current: readonly CurrentShard[];
    readonly completed: number;
    readonly failed: number;
    readonly released: number;
    readonly computeSeconds: number;
  };
  readonly money: {
    readonly currency: string;
    readonly tariffPerKwh: string;
    readonly energyKwh: number;
    /** Rounded up: never under-stated. */
    readonly electricityCost: string;
    /** "unknown" until the network reports earnings to agents. */
    readonly earnings: string;
    readonly note: string;
  };
}

const num = (v: number | null, unit: string, digits = 0) => (v === null ? 'n/a' : `${v.toFixed(digits)} ${unit}`);

/** The status as plain text, for the terminal. */
export function renderStatusText(s: AgentStatus): string {
  const lines: string[] = [];
  lines.push(`node ${s.nodeId} (pid ${s.pid}, since ${s.startedAt}), paid at ${s.payoutAddress}`);
  lines.push(`network: ${s.network.connected ? 'connected' : 'NOT connected'} to ${s.network.servers.join(', ')}, ${s.network.heartbeats} heartbeats sent`);
  lines.push(`state: ${s.paused ? 'PAUSED by the owner' : s.allowsWork ? 'working' : 'not taking work'}: ${s.reason}`);
  lines.push(`runs on: ${s.executionProviders.join(', ')} (classes ${s.capabilityClasses.join(', ')}; benchmark ${s.benchmarkScore})`);
  if (s.telemetry.mode === 'cpu-only') lines.push(`GPUs: none usable: ${s.telemetry.reason}`);
  for (const g of s.gpus) {
    lines.push(
      `GPU ${g.index} ${g.name}: ${num(g.utilizationPct, '%')} busy, ${num(g.temperatureC, '°C')}, ${num(g.powerDrawW, 'W')} of ${num(g.powerLimitW, 'W')}, ` +
        `${g.vramFreeMb} of ${g.vramTotalMb} MiB free — ${g.policy.action}: ${g.policy.reason}`,
    );
  }
  for (const w of s.telemetry.warnings) lines.push(`  warning: ${w}`);
  for (const l of s.lanes) lines.push(`lane ${l.id} on ${l.device}: ${l.action} (${l.rule}): ${l.reason}; ${l.activeShards} of ${l.slots} slot(s) busy`);
  lines.push(`shards: ${s.shards.current.length} running, ${s.shards.completed} done, ${s.shards.failed} failed, ${s.shards.released} handed back; ${s.shards.computeSeconds.toFixed(1)} s of compute`);
  for (const c of s.shards.current) lines.push(`  ${c.jobId} shard ${c.shard} (replica ${c.replica}) on ${c.lane}, ${c.runningSeconds.toFixed(1)} s`);
  lines.push(`electricity: ${s.money.energyKwh.toFixed(4)} kWh ≈ ${s.money.electricityCost} at ${s.money.tariffPerKwh}/kWh; earnings: ${s.money.earnings}`);
  lines.push(`  (${s.money.note})`);
  if (s.logFile) lines.push(`log: ${s.logFile}`);
  if (s.configFile) lines.push(`config: ${s.configFile}`);
  return lines.join('\n');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** The local status page: plain HTML that reloads itself every 2 s. */
export function renderStatusHtml(s: AgentStatus): string {
  const row = (cells: unknown[]) => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  const table = (head: string[], rows: string[]) => (rows.length ? `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.join('')}</table>` : '<p>none</p>');
  const state = s.paused ? 'Paused by you' : s.allowsWork ? 'Working' : 'Not taking work';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>WE-AI agent: ${esc(state)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.state{font-size:1.4em}</style></head>
<body>
<h1>WE-AI agent</h1>
<p class="state"><b>${esc(state)}</b>: ${esc(s.reason)}</p>
<p>Node <code>${esc(s.nodeId)}</code>, paid at <code>${esc(s.payoutAddress)}</code>; ${s.network.connected ? 'connected to' : '<b>not connected</b> to'} ${esc(s.network.servers.join(', '))}; running since ${esc(s.startedAt)}.</p>
<p>Pause and resume with <code>weai-agent pause</code> and <code>weai-agent resume</code>.</p>
<h2>GPUs</h2>
${s.telemetry.mode === 'cpu-only' ? `<p>No usable NVIDIA GPU: ${esc(s.telemetry.reason)}</p>` : ''}
${table(
  ['GPU', 'busy', 'temperature', 'power', 'free memory', 'decision', 'why'],
  s.gpus.map((g) => row([`${g.index} ${g.name}`, num(g.utilizationPct, '%'), num(g.temperatureC, '°C'), `${num(g.powerDrawW, 'W')} / ${num(g.powerLimitW, 'W')}`, `${g.vramFreeMb} / ${g.vramTotalMb} MiB`, g.policy.action, g.policy.reason])),
)}
<p>Shards run with ${esc(s.executionProviders.join(', '))}.</p>
<h2>Work</h2>
${table(
  ['lane', 'device', 'decision', 'why', 'busy slots'],
  s.lanes.map((l) => row([l.id, l.device, l.action, l.reason, `${l.activeShards} / ${l.slots}`])),
)}
${table(
  ['job', 'shard', 'lane', 'running for'],
  s.shards.current.map((c) => row([c.jobId, `${c.shard} (replica ${c.replica})`, c.lane, `${c.runningSeconds.toFixed(1)} s`])),
)}
<p>${s.shards.completed} shards done, ${s.shards.failed} failed, ${s.shards.released} handed back to the network; ${s.shards.computeSeconds.toFixed(1)} s of compute.</p>
<h2>Money</h2>
<p>Electricity used by shards: ${s.money.energyKwh.toFixed(4)} kWh, about <b>${esc(s.money.electricityCost)}</b> at ${esc(s.money.tariffPerKwh)}/kWh. Earnings: <b>${esc(s.money.earnings)}</b>.</p>
<p><small>${esc(s.money.note)}</small></p>
</body></html>
`;
}
