// Side-by-side benchmark: the same stock automerge-repo 2.x clients against (a) the
// Walkaround server and (b) a reference server built from automerge-repo itself
// (reference-server.mjs), in one run on one machine. See docs/BENCHMARKS.md.
//
//   cargo build --release -p server --bin walkaround
//   node tests/bench/harness.mjs --tablets 10 --docs 50 --edits 20 [--rounds 100] [--servers walkaround,reference]
//     [--devices-per-process 10]
//
// The servers run one after the other in the order given, each with a client process of
// its own (on a machine with more than one core, where the clients are pinned); the
// inspections are made with the demo's template and areas, read from a Walkaround server
// started for that, so both get the same documents in either order.
//
// The servers run on core 0 and the clients on core 1 (`taskset`): the tablets in this
// process, the second devices of phases 2 and 3 in worker processes of at most
// --devices-per-process clients each (one Node process holding 40 stock clients is too
// busy to finish their finds within the stock client's own time limit).
// Workload: N tablets × M inspections × K answers, in six phases:
//   1. cold upload: every tablet made its M inspections and K answers each offline and
//      connects for the first time;
//   2. new device: every tablet's user opens a second, empty device that fetches the M
//      inspections;
//   3. concurrent edits: both devices of every user answer every one of its inspections
//      at the same moment (two concurrent changes per document); converged when both
//      devices hold the same two heads for every document;
//   4. fan-out: one tablet answers, its partner (same inspection, same site) sees it;
//      p50/p99 over the rounds;
//   5. offline concurrent edits: every tablet goes offline, both partners answer the same
//      inspections, then all reconnect at once;
//   6. restart: the server stops, every tablet answers one inspection offline, the server
//      starts again and every tablet reconnects at once.
// Per phase: time to convergence (every replica's heads equal what the server reports
// for it), server CPU seconds and peak RSS (from /proc), the clients' CPU seconds (this
// process and the device workers: near the phase's seconds, the clients are the bottleneck,
// since they share one core), messages and bytes each way, and
// bytes on disk (growth of the server's data directory since setup).
import { spawn, fork, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as A from '@automerge/automerge';
import { Repo } from '@automerge/automerge-repo';
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const N = Number(option('tablets', '10'));
const M = Number(option('docs', '50'));
const K = Number(option('edits', '20'));
const ROUNDS = Number(option('rounds', '100'));
const SERVERS = option('servers', 'walkaround,reference')
  .split(',')
  .filter((kind) => kind !== '');
if (SERVERS.length === 0 || SERVERS.some((kind) => kind !== 'walkaround' && kind !== 'reference')) {
  console.error(`--servers takes walkaround and/or reference, comma-separated: ${option('servers', '')}`);
  process.exit(2);
}
const OUT = option('out', path.join(root, 'target', 'bench', `stock-N${N}-M${M}-K${K}.json`));
// The stock client retries by opening a new socket every RETRY_MS while one is still
// connecting; with 40 clients in one busy process a short interval opens several sockets per
// tablet (and our server refuses more than 20 per user), so a second.
const RETRY_MS = 1000;
const CONVERGE_TIMEOUT_MS = Number(option('timeout', '600')) * 1000;
const DEVICES_PER_PROCESS = Math.max(1, Number(option('devices-per-process', '10')));
// How many times the failed finds of the new device phase are tried again (`refetch`).
const REFETCH_ATTEMPTS = 5;

// ---- The wire, counted on the client side of every WebSocket (each way). ----
const wire = { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0 };
// The counts of the device processes, as each last reported them.
const remoteWire = new Map();
function totalWire() {
  const total = { ...wire };
  for (const w of remoteWire.values()) for (const k of Object.keys(total)) total[k] += w[k];
  return total;
}
function patchWire() {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data, ...rest) {
    wire.sent += 1;
    wire.sentBytes += data.byteLength ?? data.length ?? 0;
    return send.call(this, data, ...rest);
  };
  const emit = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function (event, data, ...rest) {
    // The stock adapter's `disconnect` closes a socket still connecting after removing its
    // own listeners; `ws` then emits an error nobody listens to, which would end the
    // process. Such a socket is being dropped on purpose.
    if (event === 'error' && this.listenerCount('error') === 0) return false;
    if (event === 'message') {
      wire.received += 1;
      wire.receivedBytes += data.byteLength ?? data.length ?? 0;
    }
    return emit.call(this, event, data, ...rest);
  };
}

// ---- The server process, from /proc. ----
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
/// CPU seconds of the clients so far, per process: this one and the device workers alive
/// now (a phase counts the processes alive at both its ends).
const workerPids = new Set();
function clientCpu() {
  const cpu = new Map([[process.pid, cpuSeconds(process.pid)]]);
  for (const pid of workerPids) {
    try {
      cpu.set(pid, cpuSeconds(pid));
    } catch {
      // Exited meanwhile.
    }
  }
  return cpu;
}
function clientCpuSince(before) {
  let total = 0;
  for (const [pid, now] of clientCpu()) if (before.has(pid)) total += now - before.get(pid);
  return total;
}
function statusKib(pid, key) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${key}:`));
  return Number(line?.split(/\s+/)[1] ?? 0);
}
function resetPeak(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Without the right to reset it, the peak is the process's lifetime peak.
  }
}
function diskBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
    } catch (e) {
      // The reference server compacts its files while they are counted.
      if (e.code !== 'ENOENT') throw e;
    }
  }
  return total;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(predicate, what, ms = CONVERGE_TIMEOUT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
function freePort() {
  return new Promise((resolve) => {
    const s = new WebSocket.Server({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- The two servers behind one interface. ----
class Server {
  constructor(kind) {
    this.kind = kind;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${kind}-`));
  }

  command() {
    if (this.kind === 'walkaround') {
      // WALKAROUND_EXE lets the smoke test in the test command use its own debug build.
      const exe = process.env.WALKAROUND_EXE ?? path.join(root, 'target', 'release', 'walkaround');
      if (!fs.existsSync(exe)) throw new Error(`build it first: cargo build --release -p server --bin walkaround (${exe})`);
      return [exe, 'serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dir, ...(this.seeded ? [] : ['--demo'])];
    }
    return [process.execPath, path.join(here, 'reference-server.mjs'), String(this.port), this.dir];
  }

  async start() {
    this.port ??= await freePort();
    const [exe, ...args] = this.command();
    this.process = spawn('taskset', ['-c', '0', exe, ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, RUST_LOG: 'warn' },
    });
    this.pid = this.process.pid;
    this.running = true;
    this.exited = new Promise((r) => this.process.on('exit', r));
    await until(async () => {
      try {
        if (this.kind === 'walkaround') return (await fetch(`${this.http}/readyz`)).ok;
        await new Promise((resolve, reject) => {
          const ws = new WebSocket(this.ws);
          ws.on('open', () => {
            ws.close();
            resolve();
          });
          ws.on('error', reject);
        });
        return true;
      } catch {
        return false;
      }
    }, `the ${this.kind} server to start`, 30000);
    this.seeded = true;
  }

  async stop() {
    this.process.kill('SIGTERM');
    await this.exited;
    this.running = false;
  }

  get http() {
    return `http://127.0.0.1:${this.port}`;
  }
  get ws() {
    return `ws://127.0.0.1:${this.port}`;
  }

  async login(username, password) {
    const r = await fetch(`${this.http}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (!r.ok) throw new Error(`login ${username}: ${r.status}`);
    return (await r.json()).access_token;
  }

  /// Per tablet: the user and the URL its WebSocket connects to.
  async accounts(n) {
    if (this.kind !== 'walkaround') {
      return Array.from({ length: n }, (_, i) => ({ user: `bench-${i}`, url: this.ws }));
    }
    const login = (username, password) => this.login(username, password);
    const office = await login('office', 'walkaround-demo');
    const accounts = [];
    for (let i = 0; i < n; i++) {
      const username = `bench-${i}`;
      const r = await fetch(`${this.http}/api/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${office}` },
        body: JSON.stringify({ username, password: 'bench-password', role: 'workshop_manager', sites: ['demo-site'] }),
      });
      if (r.status !== 201) throw new Error(`add ${username}: ${r.status} ${await r.text()}`);
      const token = await login(username, 'bench-password');
      accounts.push({ user: username, url: `${this.ws}/sync?token=${token}` });
    }
    // `--demo` built six weeks of history in memory; measure a fresh process instead.
    await this.stop();
    await this.start();
    return accounts;
  }

  /// The walkaround template and the demo site's areas, as a tablet writes them into a
  /// new inspection.
  async inspectionContent() {
    this.officeToken ??= await this.login('office', 'walkaround-demo');
    const { templates } = await (await fetch(`${this.http}/api/v1/templates`)).json();
    const { sites } = await (
      await fetch(`${this.http}/api/v1/sites`, { headers: { authorization: `Bearer ${this.officeToken}` } })
    ).json();
    return {
      template: JSON.stringify(templates.find((t) => t.id === 'workshop-walkaround')),
      areas: JSON.stringify(sites.find((s) => s.id === 'demo-site').areas),
    };
  }
}

// ---- Tablets: stock automerge-repo clients. ----
const str = (x) => new A.ImmutableString(x);
const KEYS = ['c1-visitors', 'c9-masking', 'c8-booth-floor', 'c7-old-parts', 'c9-paint-stands', 'c8-mixing-table', 'c6-aisles-clear', 'c7-benches-clean'];
let answerCount = 0;
function answer(handle, by) {
  const n = answerCount++;
  handle.change((d) => {
    d.answers[KEYS[n % KEYS.length]] = {
      value: str(n % 5 === 0 ? 'fail' : 'pass'),
      ...(n % 5 === 0 ? { note: str(`bench ${n}`) } : {}),
      photos: [],
      by: str(by),
      at: new Date(1_795_000_000_000 + n * 1000),
    };
  });
}

class Tablet {
  constructor(account) {
    this.account = account;
    this.handles = [];
  }

  online() {
    this.adapter = new WebSocketClientAdapter(this.account.url, RETRY_MS);
    this.repo = new Repo({ network: [this.adapter], peerId: `${this.account.user}-${Math.random().toString(36).slice(2, 8)}` });
  }

  /// The server's storage id, once joined.
  serverStorage() {
    for (const meta of Object.values(this.repo.peerMetadataByPeerId)) if (meta?.storageId) return meta.storageId;
    return undefined;
  }

  /// Whether the server reports this tablet's heads for every document.
  synced() {
    const storage = this.serverStorage();
    if (!storage) return false;
    return this.handles.every((h) => {
      const remote = h.getSyncInfo(storage)?.lastHeads;
      return remote && sameHeads(remote, h.heads());
    });
  }

  goOffline() {
    this.adapter.disconnect();
  }
  goOnline() {
    this.adapter.connect(this.repo.peerId, this.adapter.peerMetadata);
  }
}
const sameHeads = (a, b) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

// ---- Second devices, in worker processes. ----
/// The second device of every user, held by worker processes of at most
/// DEVICES_PER_PROCESS stock clients each, driven over IPC.
class Devices {
  constructor(accounts, docIds) {
    this.workers = [];
    for (let start = 0; start < accounts.length; start += DEVICES_PER_PROCESS) {
      const child = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      workerPids.add(child.pid);
      const replies = [];
      child.on('message', (m) => {
        if (m.wire) remoteWire.set(child.pid, m.wire);
        replies.shift()?.resolve(m);
      });
      // A worker that dies fails what was asked of it, so the run ends with an error
      // instead of waiting forever.
      child.on('exit', (code) => {
        workerPids.delete(child.pid);
        for (const r of replies.splice(0)) r.reject(new Error(`a device worker exited (${code})`));
      });
      const ask = (message) => new Promise((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`a device worker exited (${child.exitCode})`));
        replies.push({ resolve, reject });
        child.send(message);
      });
      const end = Math.min(start + DEVICES_PER_PROCESS, accounts.length);
      this.workers.push({ child, ask, start, accounts: accounts.slice(start, end), docIds: docIds.slice(start, end) });
    }
  }

  /// Every device joins the server and finds its user's documents; returns how many finds
  /// failed (the server said `unavailable`).
  async fetch() {
    return this.#find((w) => ({ type: 'fetch', accounts: w.accounts, docIds: w.docIds }));
  }

  /// Asks every worker to find its documents; records and returns how many finds failed.
  async #find(message) {
    const replies = await Promise.all(this.workers.map((w) => w.ask(message(w))));
    this.failed = replies.reduce((n, r) => n + r.failed, 0);
    return this.failed;
  }

  /// Finds again every document whose find failed, as an application would after the
  /// stock client gave up on it: up to REFETCH_ATTEMPTS times, a few seconds apart; returns
  /// how many still failed. Not part of a phase: it lets a server that failed finds under
  /// the fetch's load go on to the later phases.
  async refetch() {
    for (let attempt = 0; attempt < REFETCH_ATTEMPTS && this.failed > 0; attempt++) {
      await sleep(5000);
      await this.#find((w) => ({ type: 'refetch', docIds: w.docIds }));
      console.log(`    found again (attempt ${attempt + 1}): ${this.failed} still failed`);
    }
    return this.failed;
  }

  /// Every device answers once in every document.
  async answer() {
    await Promise.all(this.workers.map((w) => w.ask({ type: 'answer' })));
  }

  /// The heads of every device's documents: [user][document].
  async heads() {
    const parts = await Promise.all(this.workers.map((w) => w.ask({ type: 'heads' })));
    return parts.flatMap((p) => p.heads);
  }

  async shutdown() {
    await Promise.all(this.workers.map(async (w) => {
      // The worker exits after answering; one that already did has nothing to shut down.
      await w.ask({ type: 'shutdown' }).catch(() => {});
      remoteWire.delete(w.child.pid);
    }));
  }
}

/// How many of the devices' finds failed (their handles are null).
const unfound = (devices) => devices.reduce((n, d) => n + d.handles.filter((h) => h === null).length, 0);

/// Finds each of a device's documents it has no handle for (`d.handles`, in the order of
/// `ids`; a failed find's place is null). A find the server answers with `unavailable`
/// rejects: counted, not thrown. The stock client answers a find of a document it holds
/// as unavailable from its cache, without asking again, so `again` drops the handle first
/// (`delete` sends nothing, and these devices store nothing) for the find to ask anew.
async function findMissing(d, ids, again) {
  d.handles = await Promise.all(
    ids.map((id, k) => {
      if (d.handles[k]) return d.handles[k];
      if (again) d.repo.delete(id);
      return d.repo.find(id).catch(() => null);
    }),
  );
}

/// A worker process: the second devices of some users (see `Devices`).
async function worker() {
  patchWire();
  // A run that failed leaves no device process behind (their reconnect timers would keep
  // them, and core 1, busy during the next server's run).
  process.on('disconnect', () => process.exit(0));
  let devices = [];
  const reply = (m) => process.send({ ...m, wire });
  process.on('message', async (m) => {
    if (m.type === 'fetch') {
      devices = m.accounts.map((a) => new Tablet(a));
      await Promise.all(
        devices.map(async (d, i) => {
          d.online();
          // The stock client gives up on the server after one second without a handshake
          // and then reports every document unavailable: wait for the handshake first.
          await until(() => d.serverStorage() !== undefined, 'the new device to join');
          await findMissing(d, m.docIds[i], false);
        }),
      );
      reply({ type: 'fetched', failed: unfound(devices) });
    } else if (m.type === 'refetch') {
      await Promise.all(devices.map((d, i) => findMissing(d, m.docIds[i], true)));
      reply({ type: 'fetched', failed: unfound(devices) });
    } else if (m.type === 'answer') {
      devices.forEach((d) => d.handles.forEach((h) => answer(h, d.account.user)));
      reply({ type: 'answered' });
    } else if (m.type === 'heads') {
      reply({ type: 'heads', heads: devices.map((d) => d.handles.map((h) => h.heads())) });
    } else if (m.type === 'shutdown') {
      await Promise.all(devices.map((d) => d.repo.shutdown()));
      reply({ type: 'done' });
      process.exit(0);
    }
  });
}

// ---- One phase, measured. ----
async function phase(server, name, work, converged) {
  // A phase that starts the server measures the new process from its start.
  const alive = server.running;
  if (alive) resetPeak(server.pid);
  const cpu0 = alive ? cpuSeconds(server.pid) : 0;
  const clientCpu0 = clientCpu();
  const wire0 = totalWire();
  const disk0 = server.diskBase;
  const t0 = performance.now();
  // CLOCK_MONOTONIC, as `perf record -k CLOCK_MONOTONIC` stamps its samples: a profile of
  // the whole run can be cut into phases (docs/BENCHMARKS.md, "Profiling a phase").
  const monotonic0 = process.hrtime.bigint();
  await work();
  await until(converged, `${name} to converge`);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server.pid) - cpu0;
  const wire = totalWire();
  const result = {
    phase: name,
    seconds,
    cpu_seconds: cpu,
    // Whether the clients or the server are the busier side of a phase.
    client_cpu_seconds: clientCpuSince(clientCpu0),
    peak_rss_kib: statusKib(server.pid, 'VmHWM'),
    rss_kib: statusKib(server.pid, 'VmRSS'),
    messages_up: wire.sent - wire0.sent,
    bytes_up: wire.sentBytes - wire0.sentBytes,
    messages_down: wire.received - wire0.received,
    bytes_down: wire.receivedBytes - wire0.receivedBytes,
    disk_bytes: diskBytes(server.dir) - disk0,
    monotonic_s: [Number(monotonic0) / 1e9, Number(process.hrtime.bigint()) / 1e9],
  };
  console.log(`  ${server.kind} ${name}: ${seconds.toFixed(2)} s, CPU ${cpu.toFixed(2)} s (clients ${result.client_cpu_seconds.toFixed(2)} s), peak RSS ${(result.peak_rss_kib / 1024).toFixed(1)} MiB, ${result.messages_up}/${result.messages_down} messages, ${(result.bytes_up / 1024).toFixed(0)}/${(result.bytes_down / 1024).toFixed(0)} KiB up/down`);
  return result;
}

/// The template and areas the inspections are made with: the demo's, read from a
/// Walkaround server (the reference server keeps no templates). Both servers get the same
/// documents whichever runs first.
async function demoContent() {
  const server = new Server('walkaround');
  await server.start();
  try {
    return await server.inspectionContent();
  } finally {
    await server.stop();
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
}

async function run(kind, content) {
  const server = new Server(kind);
  await server.start();
  try {
    return await runOn(server, kind, content);
  } catch (e) {
    // Not left running (and holding the terminal's output open) after a failed phase.
    if (server.running) await server.stop();
    throw e;
  }
}

async function runOn(server, kind, content) {
  const accounts = await server.accounts(N);
  const { template, areas } = content;
  server.diskBase = diskBytes(server.dir);
  const results = [];
  console.log(`${kind}: N=${N} tablets, M=${M} inspections each, K=${K} answers each (pid ${server.pid})`);

  // The documents, made offline: each tablet's M inspections with K answers each.
  const made = accounts.map((account) => {
    const offline = new Repo({ network: [] });
    const docs = [];
    for (let m = 0; m < M; m++) {
      const h = offline.create({
        schema: str('walkaround/inspection'),
        layout: 1,
        id: str(`bench-${account.user}-${m}`),
        site: str('demo-site'),
        template: str(template),
        areas: str(areas),
        created_by: str(account.user),
        created_at: new Date(1_795_000_000_000),
        answers: {},
        occupied: {},
      });
      for (let k = 0; k < K; k++) answer(h, account.user);
      docs.push({ id: h.documentId, bytes: A.save(h.doc()) });
    }
    offline.shutdown();
    return docs;
  });
  const tablets = accounts.map((a) => new Tablet(a));
  const allSynced = () => tablets.every((t) => t.synced());

  // 1. Cold upload.
  results.push(
    await phase(server, 'cold upload', async () => {
      tablets.forEach((t, i) => {
        t.online();
        t.handles = made[i].map((d) => t.repo.import(d.bytes, { docId: d.id }));
      });
    }, allSynced),
  );

  // 2. A new device per user fetches its M inspections (the devices in worker processes).
  const devices = new Devices(accounts, made.map((docs) => docs.map((d) => d.id)));
  const sameAsTablets = (heads, extra = () => true) => heads.every((docs, i) => docs.every((h, m) => extra(h) && sameHeads(h, tablets[i].handles[m].heads())));
  results.push(
    await phase(server, 'new device fetch', () => devices.fetch(), async () => devices.failed > 0 || sameAsTablets(await devices.heads())),
  );
  let complete = devices.failed === 0;
  if (!complete) {
    results.at(-1).failed_finds = devices.failed;
    console.log(`  ${kind}: ${devices.failed} of ${N * M} finds failed (unavailable); finding them again`);
    // The later phases need every document on both devices: the failed finds are tried
    // again (`refetch`), outside any phase, and their documents must reach the same heads.
    const still = await devices.refetch();
    results.at(-1).failed_again = still;
    console.log(`  ${kind}: found again, ${still} still failed`);
    if (still === 0) {
      try {
        await until(async () => sameAsTablets(await devices.heads()), 'the documents found again to converge', 120_000);
        complete = true;
      } catch {
        console.log(`  ${kind}: the documents found again did not converge within 120 s`);
      }
    }
  }
  if (!complete) {
    // The later phases need every document on both devices.
    console.log(`  ${kind}: the later phases are not run`);
    await devices.shutdown();
    tablets.forEach((t) => t.repo.shutdown());
    await server.stop();
    fs.rmSync(server.dir, { recursive: true, force: true });
    return { server: kind, results, content };
  }

  // 3. Both devices of every user answer every one of its inspections at the same moment:
  // every document gets two concurrent changes, one from each device (issue 21). It has
  // converged when both devices hold the same heads for every document, two of them.
  results.push(
    await phase(server, 'concurrent edits on two devices', async () => {
      tablets.forEach((t) => t.handles.forEach((h) => answer(h, t.account.user)));
      await devices.answer();
    }, async () => sameAsTablets(await devices.heads(), (h) => h.length === 2)),
  );
  await devices.shutdown();

  // 4. Fan-out: tablet i answers in its first inspection; its partner i^1 has it open.
  const partner = (i) => (i % 2 === 0 ? Math.min(i + 1, N - 1) : i - 1);
  const shared = await Promise.all(tablets.map((t, i) => tablets[partner(i)].repo.find(made[i][0].id)));
  tablets.forEach((t, i) => tablets[partner(i)].handles.push(shared[i]));
  await until(allSynced, 'the partners to open the shared inspections');
  const latencies = [];
  results.push(
    await phase(server, `fan-out (${ROUNDS} rounds)`, async () => {
      for (let r = 0; r < ROUNDS; r++) {
        const i = r % N;
        const writer = tablets[i].handles[0];
        const reader = shared[i];
        const seen = new Promise((resolve) => {
          const check = () => {
            if (sameHeads(reader.heads(), writer.heads())) {
              reader.off('change', check);
              resolve();
            }
          };
          reader.on('change', check);
        });
        const t = performance.now();
        answer(writer, tablets[i].account.user);
        await seen;
        latencies.push(performance.now() - t);
      }
    }, allSynced),
  );
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
  Object.assign(results.at(-1), { p50_ms: at(0.5), p99_ms: at(0.99) });
  console.log(`    fan-out p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms`);

  // 5. Offline concurrent edits on both sides, then every tablet reconnects at once.
  tablets.forEach((t) => t.goOffline());
  // Each tablet answers in five of its own inspections and in its partner's shared one
  // (its last handle), while the partner answers in that same inspection.
  tablets.forEach((t) => {
    for (const h of t.handles.slice(0, 5)) answer(h, t.account.user);
    answer(t.handles.at(-1), t.account.user);
  });
  const pairsEqual = () => tablets.every((t, i) => sameHeads(tablets[i].handles[0].heads(), shared[i].heads()));
  results.push(
    await phase(server, 'offline edits + reconnect storm', async () => {
      tablets.forEach((t) => t.goOnline());
    }, () => allSynced() && pairsEqual()),
  );

  // 6. Restart: the server stops, tablets answer offline, it starts, all reconnect.
  await server.stop();
  tablets.forEach((t) => answer(t.handles[1 % t.handles.length], t.account.user));
  results.push(
    await phase(server, 'restart + reconnect', () => server.start(), allSynced),
  );

  tablets.forEach((t) => t.repo.shutdown());
  await server.stop();
  fs.rmSync(server.dir, { recursive: true, force: true });
  return { server: kind, results, content };
}

async function main() {
  patchWire();
  // A stock client shut down while its adapter is still reconnecting emits an error no one
  // can listen for (its socket is internal): not a result of the run.
  process.on('uncaughtException', (e) => {
    if (String(e?.message).includes('closed before the connection was established')) return;
    console.error(e);
    process.exit(1);
  });
  const report = { date: new Date().toISOString(), machine: `${os.cpus().length} × ${os.cpus()[0].model}`, N, M, K, rounds: ROUNDS, runs: [] };
  const content = await demoContent();
  for (const kind of SERVERS) {
    const { content: _, ...result } = await run(kind, content);
    report.runs.push(result);
  }
  writeReport(report);
  process.exit(0);
}

/// Writes the report to OUT and prints the side-by-side table when it holds two runs.
function writeReport(report) {
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(report, null, 2));
  if (report.runs.length === 2) {
    // Ours first in the table, whichever order they ran in (`--servers reference,walkaround`
    // gives the reference the cold client process instead).
    const ours = report.runs.find((r) => r.server === 'walkaround') ?? report.runs[0];
    const ref = report.runs.find((r) => r !== ours);
    console.log(`\n| phase | seconds (W / ref) | CPU s (W / ref, ratio) | peak RSS MiB (W / ref, ratio) | KiB up+down (W / ref) |`);
    console.log('|---|---|---|---|---|');
    ours.results.forEach((o, i) => {
      const r = ref.results[i];
      if (!r) {
        console.log(`| ${o.phase} | ${o.seconds.toFixed(2)} / — | ${o.cpu_seconds.toFixed(2)} / — | — | — |`);
        return;
      }
      const mib = (k) => (k / 1024).toFixed(1);
      console.log(
        `| ${o.phase}${r.failed_finds ? ` (reference: ${r.failed_finds} finds failed)` : ''} | ${o.seconds.toFixed(2)} / ${r.seconds.toFixed(2)} | ${o.cpu_seconds.toFixed(2)} / ${r.cpu_seconds.toFixed(2)} (${(o.cpu_seconds / r.cpu_seconds).toFixed(2)}) | ${mib(o.peak_rss_kib)} / ${mib(r.peak_rss_kib)} (${(o.peak_rss_kib / r.peak_rss_kib).toFixed(2)}) | ${((o.bytes_up + o.bytes_down) / 1024).toFixed(0)} / ${((r.bytes_up + r.bytes_down) / 1024).toFixed(0)} |`,
      );
    });
  }
  // A part of `runPinned`'s run: its report is joined into the one it writes.
  if (!process.env.WALKAROUND_BENCH_PART) console.log(`\nwritten to ${OUT}`);
}

/// Runs each server's benchmark in a client process of its own, pinned to core 1, and
/// joins their reports. A fresh process per server: one that already ran a server's
/// phases (40 stock clients and their documents) ran the next one's cold upload several
/// times slower, whichever server came second. A run that fails is reported and the next
/// one still runs.
async function runPinned() {
  const args = process.argv.slice(1);
  const without = (list, name) => {
    const i = list.indexOf(`--${name}`);
    return i > 0 ? [...list.slice(0, i), ...list.slice(i + 2)] : list;
  };
  const base = without(without(args, 'servers'), 'out');
  // No report from an earlier run is left looking like this one's.
  fs.rmSync(OUT, { force: true });
  const parts = [];
  for (const kind of SERVERS) {
    const out = path.join(os.tmpdir(), `walkaround-bench-${process.pid}-${kind}.json`);
    try {
      const code = await new Promise((resolve) => {
        const child = spawn('taskset', ['-c', '1', process.execPath, ...base, '--servers', kind, '--out', out], {
          stdio: 'inherit',
          env: { ...process.env, WALKAROUND_BENCH_PINNED: '1', WALKAROUND_BENCH_PART: '1' },
        });
        child.on('exit', (c) => resolve(c ?? 1));
      });
      if (code !== 0 || !fs.existsSync(out)) {
        console.error(`${kind}: the run failed (exit ${code}); its figures are not in the report`);
        continue;
      }
      parts.push(JSON.parse(fs.readFileSync(out, 'utf8')));
    } finally {
      fs.rmSync(out, { force: true });
    }
  }
  if (parts.length === 0) process.exit(1);
  writeReport({ ...parts[0], runs: parts.flatMap((p) => p.runs) });
  process.exit(parts.length === SERVERS.length ? 0 : 1);
}

// The servers on core 0, the clients on core 1: re-run this script pinned.
if (!process.env.WALKAROUND_BENCH_PINNED && os.cpus().length > 1) {
  await runPinned();
} else if (process.argv.includes('--worker')) {
  await worker();
} else {
  await main();
}
