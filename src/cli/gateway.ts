// The running gateway: the Collecting Processes of `inputs`, the Exporting Processes of `outputs`, the
// OutputSet that joins them, and the HTTP endpoint — started from one validated config, changed in place by
// a reload (SIGHUP), stopped by SIGTERM.
//
// A reload applies the difference (src/config/diff.ts) and nothing more:
// - unchanged inputs keep their sockets and exporter sessions; unchanged outputs keep their Transport
//   Sessions, ODID/Template ID mappings and queues: their collectors see nothing happen;
// - removed outputs leave the OutputSet first, then close as at shutdown (Template Withdrawals on reliable
//   transports, queue drained for drainTimeout); removed inputs stop (their sessions end, `shutdown`, and
//   every output withdraws what it derived from them);
// - changed ones are removed, then started again with the new settings; what arrives for such an output
//   while it closes and starts waits in an EventHold (src/mediate/event-hold.ts) and is replayed into the
//   new one; new outputs learn every live session and template before the next datagram
//   (CollectingProcess.announceTo);
// - changed mapping settings or mapping files restart every input (decoders compile their plans from them);
// - a config that does not load, a certificate file that does not read, or mapping tables that do not load
//   reject the whole reload before anything changes: errors logged, the running config stays.
// TLS certificates of what is kept are read again on every SIGHUP (a bad file keeps the old ones).

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Config, InputConfig, OutputConfig } from '../config/types.js';
import { ConfigError, loadConfig, parseListenUrl } from '../config/load.js';
import { describeDiff, diffConfig } from '../config/diff.js';
import { CollectingProcess } from '../collect/collecting-process.js';
import { ShardedInput, type InputProcess } from '../pipeline/sharded-input.js';
import { createExportingProcess, type ExportingProcess } from '../export/index.js';
import { OutputSet } from '../mediate/output-set.js';
import { EventHold } from '../mediate/event-hold.js';
import type { RecordSink } from '../mediate/sink.js';
import { Selector } from '../mediate/select.js';
import { loadRegistry } from '../model/registry.js';
import type { Registry } from '../model/types.js';
import { log } from '../observe/log.js';
import { startHttp } from '../observe/http.js';
import { DropReason, configReloads, forgetOutput, recordsDropped } from '../observe/metrics.js';
import { reloadTlsOutputs } from '../transport/tls.js';
import { TlsCredentials } from '../transport/tls-credentials.js';

interface Output {
  readonly process: ExportingProcess;
  /** What the OutputSet feeds: the process, or its select rules in front of it. */
  readonly sink: RecordSink;
}

export type ReloadResult = 'ok' | 'partial' | 'rejected';

/** Names and contents of the mapping folder's files: a reload notices tables edited in place. */
function mappingFingerprint(dir: string): string {
  const h = createHash('sha256');
  try {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.yaml') && !f.endsWith('.yml')) continue;
      h.update(f).update('\0').update(readFileSync(join(dir, f))).update('\0');
    }
  } catch {
    h.update('unreadable');
  }
  return h.digest('hex');
}

/** Throws when a TLS input's or output's certificate files do not make a TLS context. */
function checkTlsFiles(c: InputConfig | OutputConfig, owner: string, tls: boolean): void {
  if (tls) new TlsCredentials({ ca: c.ca ?? '', cert: c.cert ?? '', key: c.key ?? '' }, owner);
}
const inputUsesTls = (c: InputConfig) => parseListenUrl(c.listen)?.scheme === 'tls';
const outputUsesTls = (c: OutputConfig) => c.url.startsWith('tls:') || (c.failover?.some((m) => m.url.startsWith('tls:')) ?? false);

export class Gateway {
  private readonly outputSet = new OutputSet();
  private readonly inputs = new Map<string, InputProcess>();
  private readonly outputs = new Map<string, Output>();
  private registry: Registry;
  private mappingPrint: string;
  private http?: Server;
  /** Reloads and the shutdown run one at a time, in the order they were asked for. */
  private busy: Promise<unknown> = Promise.resolve();
  private stopping = false;

  constructor(
    private config: Config,
    private readonly path: string | undefined,
  ) {
    this.registry = loadRegistry(config.mapping.dir);
    this.mappingPrint = mappingFingerprint(config.mapping.dir);
  }

  get current(): Config {
    return this.config;
  }

  /** The running input of this name (tests reach a sharded input's worker threads through it). */
  input(name: string): InputProcess | undefined {
    return this.inputs.get(name);
  }

  /** Outputs first (so nothing decoded has nowhere to go), then inputs, then the HTTP endpoint. Throws on failure. */
  async start(): Promise<void> {
    for (const c of this.config.outputs) {
      try {
        await this.startOutput(c);
      } catch (e) {
        await Promise.allSettled([...this.outputs.values()].map((o) => o.process.close()));
        throw new Error(`outputs "${c.name}": cannot start: ${(e as Error).message}`);
      }
    }
    for (const c of this.config.inputs) {
      const cp = this.makeInput(c, this.registry);
      try {
        await cp.start();
        this.inputs.set(c.name, cp);
      } catch (e) {
        await cp.stop();
        await this.stopAll();
        throw new Error(`inputs "${c.name}": cannot start: ${(e as Error).message}`);
      }
    }
    await this.startHttp();
  }

  /** UDP inputs decode in `workers` worker threads (src/pipeline/) when there are any; the others here. */
  private makeInput(c: InputConfig, registry: Registry): InputProcess {
    const options = { registry, mapping: this.config.mapping };
    if (this.config.workers > 0 && parseListenUrl(c.listen)?.scheme === 'udp') return new ShardedInput(c, this.outputSet, options, this.config.workers, this.config.logLevel);
    return new CollectingProcess(c, this.outputSet, options);
  }

  /**
   * Creates, starts and joins an output; it learns the sessions and templates live on the inputs, or — an
   * output restarted by a reload — everything its hold kept since the old one left, in one go.
   */
  private async startOutput(c: OutputConfig, hold?: EventHold): Promise<void> {
    const process = createExportingProcess(c);
    await process.start();
    // Outputs with select rules see only the records those match (RFC 6183 §6.1); the others see all.
    const sink = c.select ? new Selector(c.name, c.select, process) : process;
    if (hold) {
      this.outputSet.remove(hold);
      hold.replayInto(sink);
    } else for (const i of this.inputs.values()) i.announceTo(sink);
    this.outputSet.add(sink);
    this.outputs.set(c.name, { process, sink });
  }

  /**
   * Leaves the OutputSet, then closes as at shutdown: withdrawals on reliable transports, queue drained.
   * `removed`: no output of this name follows, so its gauges go too.
   */
  private async stopOutput(name: string, removed: boolean): Promise<void> {
    const o = this.outputs.get(name);
    if (!o) return;
    this.outputSet.remove(o.sink);
    this.outputs.delete(name);
    await o.process.close();
    if (o.sink instanceof Selector) o.sink.close();
    if (!removed) return;
    // A removed output's gauges go, once its sockets' close events (which set transport_up 0) have run.
    const names = [name, ...(o.process.config.failover ?? []).map((m) => m.name)];
    setTimeout(() => {
      if (!this.outputs.has(name)) for (const n of names) forgetOutput(n);
    }, 100).unref();
  }

  private async startHttp(): Promise<void> {
    if (!this.config.metrics) return;
    try {
      this.http = await startHttp(this.config.metrics, () => this.health());
    } catch (e) {
      log.error({ err: e, metrics: this.config.metrics }, 'metrics endpoint could not start; running without it');
    }
  }

  health(): Record<string, unknown> {
    return {
      inputs: this.config.inputs
        .filter((c) => this.inputs.has(c.name))
        .map((c) => ({ name: c.name, listen: c.listen, protocol: c.protocol, ...(/^(tcp|tls|sctp):/.test(c.listen) ? { connections: this.inputs.get(c.name)!.connections() } : {}), sessions: this.inputs.get(c.name)!.exporterSessions() })),
      outputs: this.config.outputs.filter((c) => this.outputs.has(c.name)).map((c) => ({ name: c.name, url: c.url, ...this.outputs.get(c.name)!.process.health() })),
    };
  }

  /** SIGHUP: read the config file again and apply what changed (see the top of this file). */
  reload(): Promise<ReloadResult> {
    const next = this.busy.then(() => (this.stopping ? ('rejected' as const) : this.apply()));
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async apply(): Promise<ReloadResult> {
    const old = this.config;
    let next: Config;
    let registry = this.registry;
    let print = this.mappingPrint;
    const fresh: InputProcess[] = [];
    let d: ReturnType<typeof diffConfig>;
    let mappingChanged: boolean;
    let restartInputs: InputConfig[];
    // 1. Everything that can fail without side effects is checked before anything changes.
    try {
      next = loadConfig(this.path);
      d = diffConfig(old, next);
      print = mappingFingerprint(next.mapping.dir);
      mappingChanged = d.mapping || print !== this.mappingPrint;
      for (const c of [...d.inputs.added, ...d.inputs.changed]) checkTlsFiles(c, `input ${c.name}`, inputUsesTls(c));
      for (const c of [...d.outputs.added, ...d.outputs.changed]) checkTlsFiles(c, `output ${c.name}`, outputUsesTls(c));
      if (mappingChanged) registry = loadRegistry(next.mapping.dir);
      // Decoders are built (mapping tables read) here: a table that does not load rejects the reload.
      restartInputs = mappingChanged ? [...d.inputs.unchanged, ...d.inputs.changed] : d.inputs.changed;
      // A new worker count restarts the UDP inputs (their sessions move to the new threads).
      if (!mappingChanged && next.workers !== old.workers) restartInputs = [...d.inputs.changed, ...d.inputs.unchanged.filter((c) => parseListenUrl(c.listen)?.scheme === 'udp')];
      this.config = next; // makeInput reads the mapping settings from here
      for (const c of [...restartInputs, ...d.inputs.added]) fresh.push(this.makeInput(c, registry));
    } catch (e) {
      this.config = old;
      await Promise.allSettled(fresh.map((cp) => cp.stop()));
      const errors = e instanceof ConfigError ? e.errors : [(e as Error).message];
      for (const error of errors) log.error({ config: this.path }, `reload rejected: ${error}`);
      log.error({ config: this.path, errors: errors.length }, 'SIGHUP: the new configuration is not valid; the running one stays');
      configReloads.inc({ result: 'rejected' });
      return 'rejected';
    }
    log.info({ config: this.path, ...describeDiff(d), mappingChanged }, 'SIGHUP: applying the new configuration');
    if (d.logLevel) {
      log.level = next.logLevel;
      for (const i of this.inputs.values()) if (i instanceof ShardedInput) i.logLevel(next.logLevel);
    }
    let failed = 0;

    // 2. Outputs: removed and changed ones leave and close; changed and added ones start and join. What
    //    arrives for a changed output meanwhile waits in a hold that learned the live state first.
    const holds = new Map<string, EventHold>();
    for (const c of d.outputs.changed) {
      // in one step, between two events: the old output gets no more, the hold everything from here on
      const hold = new EventHold(c.name);
      for (const i of this.inputs.values()) i.announceTo(hold);
      const old = this.outputs.get(c.name);
      if (old) this.outputSet.remove(old.sink);
      this.outputSet.add(hold);
      holds.set(c.name, hold);
    }
    for (const c of d.outputs.removed) await this.stopOutput(c.name, true);
    for (const c of d.outputs.changed) await this.stopOutput(c.name, false);
    // The old sockets' close events (transport_up 0) must run before the new ones connect (transport_up 1).
    if (d.outputs.changed.length) await new Promise((r) => setTimeout(r, 50));
    for (const c of [...d.outputs.changed, ...d.outputs.added]) {
      const hold = holds.get(c.name);
      try {
        await this.startOutput(c, hold);
      } catch (e) {
        failed++;
        if (hold) {
          this.outputSet.remove(hold);
          recordsDropped.inc({ stage: c.name, reason: DropReason.transportDown }, hold.heldRecords);
        }
        log.error({ output: c.name, err: (e as Error).message }, 'reload: output could not start; it is left out until the next reload');
      }
    }

    // 3. Inputs: removed and restarted ones stop (their sessions end), then the new ones start.
    const byName = new Map(fresh.map((cp) => [cp.config.name, cp]));
    for (const c of [...d.inputs.removed, ...restartInputs]) {
      const cp = this.inputs.get(c.name);
      this.inputs.delete(c.name);
      if (cp) await cp.stop();
    }
    for (const c of [...restartInputs, ...d.inputs.added]) {
      const cp = byName.get(c.name)!;
      try {
        await cp.start();
        this.inputs.set(c.name, cp);
      } catch (e) {
        failed++;
        await cp.stop();
        log.error({ input: c.name, err: (e as Error).message }, 'reload: input could not start; it is left out until the next reload');
      }
    }
    this.registry = registry;
    this.mappingPrint = print;

    // 4. The endpoint moves when its address changed; certificates of what was kept are read again.
    if (d.metrics) {
      await this.stopHttp();
      await this.startHttp();
    }
    const kept = new Set(d.inputs.unchanged.map((c) => c.name));
    for (const [name, cp] of this.inputs) if (kept.has(name) && !mappingChanged) cp.reloadCertificates();
    reloadTlsOutputs();

    const result: ReloadResult = failed ? 'partial' : 'ok';
    configReloads.inc({ result });
    log.info({ config: this.path, result, inputs: [...this.inputs.keys()], outputs: [...this.outputs.keys()] }, 'SIGHUP: configuration reloaded');
    return result;
  }

  /** SIGTERM: inputs stop (every session ends, `shutdown`), then outputs flush, withdraw, drain and close. */
  stop(): Promise<void> {
    this.stopping = true;
    const done = this.busy.then(() => this.stopAll());
    this.busy = done.catch(() => undefined);
    return done;
  }

  private async stopAll(): Promise<void> {
    await Promise.allSettled([...this.inputs.values()].map((i) => i.stop()));
    this.inputs.clear();
    await Promise.allSettled([...this.outputs.values()].map((o) => o.process.close()));
    this.outputs.clear();
    await this.stopHttp();
  }

  private async stopHttp(): Promise<void> {
    const h = this.http;
    this.http = undefined;
    if (!h) return;
    const closed = new Promise<void>((r) => h.close(() => r()));
    h.closeAllConnections(); // a scraper's keep-alive connection must not hold the address
    await closed;
  }

  /** The longest time a stop may take: 5 s, or 3 s past the longest drainTimeout above 2. */
  shutdownLimitMs(base: number): number {
    return base + Math.max(0, ...this.config.outputs.map((o) => (o.drainTimeout ?? 2) - 2)) * 1000;
  }
}
