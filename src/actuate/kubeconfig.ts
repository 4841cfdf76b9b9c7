// A focused kubeconfig reader for running the planner outside the cluster (shadow mode from a
// laptop): the files kubectl reads (--kubeconfig, else KUBECONFIG's list, else ~/.kube/config,
// merged first-wins as kubectl merges them), the current context or --context, and the three kinds
// of credentials kubectl uses today: a bearer token (token, tokenFile), a client certificate, and an
// exec credential plugin (client.authentication.k8s.io ExecCredential). Relative paths are resolved
// against the file that names them, as kubectl does.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { InputError, RuntimeFailure } from '../util/errors.js';
import { yamlPackage } from '../util/yaml-limits.js';
import type { KubeConnection, KubeCredentials } from './kubernetes.js';

interface NamedEntry<T> { name?: unknown; [k: string]: unknown; cluster?: T; user?: T; context?: T }

interface Cluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}

interface ExecConfig {
  apiVersion?: string;
  command?: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  provideClusterInfo?: boolean;
  interactiveMode?: string;
  installHint?: string;
}

interface User {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  'auth-provider'?: { name?: string };
}

interface Context { cluster?: string; user?: string; namespace?: string }

/** An entry and the file it came from (relative paths resolve against that file's directory). */
interface Located<T> { value: T; file: string }

export interface KubeconfigOptions {
  /** --kubeconfig: one file, overriding KUBECONFIG. */
  path?: string;
  /** --context: overriding current-context. */
  context?: string;
  /** --namespace: overriding the context's namespace. */
  namespace?: string;
  env: NodeJS.ProcessEnv;
  /** Bound on an exec plugin's run (ms). */
  execTimeoutMs?: number;
}

export interface LoadedKubeconfig {
  connection: KubeConnection;
  context: string;
  files: string[];
}

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];
/** Largest ExecCredential output read from a plugin. */
const EXEC_MAX_BYTES = 1024 * 1024;

export function kubeconfigFiles(opts: Pick<KubeconfigOptions, 'path' | 'env'>): string[] {
  if (opts.path) return [resolve(opts.path)];
  const list = (opts.env.KUBECONFIG ?? '').split(delimiter).filter((p) => p.trim() !== '');
  if (list.length) return list.map((p) => resolve(p));
  return [join(opts.env.HOME ?? homedir(), '.kube', 'config')];
}

function readConfigFile(file: string, required: boolean): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // kubectl skips KUBECONFIG entries that do not exist; an explicit --kubeconfig must exist.
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(`kubeconfig ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pass --kubeconfig <file> or set KUBECONFIG.`);
  }
  let doc: unknown;
  try {
    doc = yamlPackage().parse(text);
  } catch (err) {
    throw new InputError(`kubeconfig ${file}: not valid YAML (${(err as Error).message.split('\n')[0]}).`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(`kubeconfig ${file}: expected a Config mapping (clusters, users, contexts, current-context).`);
  return doc as Record<string, unknown>;
}

function collect<T>(files: { file: string; doc: Record<string, unknown> }[], key: 'clusters' | 'users' | 'contexts', inner: 'cluster' | 'user' | 'context'): Map<string, Located<T>> {
  const out = new Map<string, Located<T>>();
  for (const { file, doc } of files) {
    const list = doc[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new InputError(`kubeconfig ${file}: ${key} must be a list of {name, ${inner}}.`);
    for (const e of list as NamedEntry<T>[]) {
      if (!e || typeof e.name !== 'string') throw new InputError(`kubeconfig ${file}: an entry of ${key} has no name.`);
      // First file to define a name wins, as kubectl merges.
      if (!out.has(e.name)) out.set(e.name, { value: (e[inner] ?? {}) as T, file });
    }
  }
  return out;
}

function fileRelative(path: string, file: string): string {
  return isAbsolute(path) ? path : join(dirname(file), path);
}

function readPem(path: string, file: string, field: string): string {
  const full = fileRelative(path, file);
  try {
    return readFileSync(full, 'utf8');
  } catch (err) {
    throw new InputError(`kubeconfig ${file}: ${field} ${full} is not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
}

function decodeData(data: string, file: string, field: string): string {
  const text = Buffer.from(data, 'base64').toString('utf8');
  if (!text.includes('-----BEGIN')) throw new InputError(`kubeconfig ${file}: ${field} is not base64 of a PEM block.`);
  return text;
}

/** Select the context and build the connection. Throws InputError naming the file, field and fix. */
export function loadKubeconfig(opts: KubeconfigOptions): LoadedKubeconfig {
  const paths = kubeconfigFiles(opts);
  const files = paths
    .map((file) => ({ file, doc: readConfigFile(file, paths.length === 1 || opts.path !== undefined) }))
    .filter((f): f is { file: string; doc: Record<string, unknown> } => f.doc !== null);
  const where = paths.join(delimiter);
  if (files.length === 0) throw new InputError(`kubeconfig: none of ${where} exists; pass --kubeconfig <file> or set KUBECONFIG.`);
  const clusters = collect<Cluster>(files, 'clusters', 'cluster');
  const users = collect<User>(files, 'users', 'user');
  const contexts = collect<Context>(files, 'contexts', 'context');
  const current = files.map((f) => f.doc['current-context']).find((c) => typeof c === 'string' && c !== '') as string | undefined;
  const contextName = opts.context ?? current;
  const names = [...contexts.keys()].join(', ') || 'none';
  if (!contextName) throw new InputError(`kubeconfig ${where}: no current-context; pass --context <name> (contexts: ${names}).`);
  const ctx = contexts.get(contextName);
  if (!ctx) throw new InputError(`kubeconfig ${where}: context '${contextName}' not found (contexts: ${names}); pass --context with one of them.`);
  const clusterName = ctx.value.cluster;
  const cluster = clusterName ? clusters.get(clusterName) : undefined;
  if (!cluster) throw new InputError(`kubeconfig ${ctx.file}: context '${contextName}' names cluster '${clusterName ?? ''}', which is not defined.`);
  const server = cluster.value.server;
  if (typeof server !== 'string' || !/^https?:\/\//.test(server)) {
    throw new InputError(`kubeconfig ${cluster.file}: cluster '${clusterName}' has no http(s) server URL (server: ${JSON.stringify(server)}).`);
  }
  const userName = ctx.value.user;
  const user = userName ? users.get(userName) : undefined;
  if (userName && !user) throw new InputError(`kubeconfig ${ctx.file}: context '${contextName}' names user '${userName}', which is not defined.`);
  const c = cluster.value;
  const ca = c['certificate-authority-data']
    ? decodeData(c['certificate-authority-data'], cluster.file, `cluster '${clusterName}' certificate-authority-data`)
    : c['certificate-authority'] ? readPem(c['certificate-authority'], cluster.file, `cluster '${clusterName}' certificate-authority`) : undefined;
  const credentials = userCredentials(user, userName ?? '', { server, ca, insecure: c['insecure-skip-tls-verify'] === true, servername: c['tls-server-name'] }, `kubeconfig context ${contextName}`, opts);
  return {
    connection: {
      apiUrl: server.replace(/\/+$/, ''),
      tokenPath: '',
      caPath: '',
      namespace: opts.namespace ?? ctx.value.namespace ?? 'default',
      credentials,
    },
    context: contextName,
    files: files.map((f) => f.file),
  };
}

interface ClusterTls { server: string; ca?: string; insecure: boolean; servername?: string }

function userCredentials(user: Located<User> | undefined, name: string, cluster: ClusterTls, origin: string, opts: KubeconfigOptions): KubeCredentials {
  const u = user?.value ?? {};
  const file = user?.file ?? '';
  const baseTls = { ca: cluster.ca, insecure: cluster.insecure, servername: cluster.servername };
  if (u['auth-provider']) {
    throw new InputError(`kubeconfig ${file}: user '${name}' uses auth-provider '${u['auth-provider'].name ?? '?'}', which kubectl removed; switch the user to an exec credential plugin (e.g. kubelogin, gke-gcloud-auth-plugin, aws eks get-token).`);
  }
  const cert = u['client-certificate-data'] ? decodeData(u['client-certificate-data'], file, `user '${name}' client-certificate-data`)
    : u['client-certificate'] ? readPem(u['client-certificate'], file, `user '${name}' client-certificate`) : undefined;
  const key = u['client-key-data'] ? decodeData(u['client-key-data'], file, `user '${name}' client-key-data`)
    : u['client-key'] ? readPem(u['client-key'], file, `user '${name}' client-key`) : undefined;
  if ((cert === undefined) !== (key === undefined)) throw new InputError(`kubeconfig ${file}: user '${name}' has a client certificate without its key (or a key without its certificate); give both.`);
  if (u.exec) return execCredentials(u.exec, name, file, cluster, baseTls, { cert, key }, origin, opts);
  let authorization: () => string | null = () => null;
  // A bearer token never holds whitespace: a YAML block scalar's trailing newline is not part of it.
  if (u.token) authorization = () => `Bearer ${u.token!.trim()}`;
  else if (u.tokenFile) {
    const path = fileRelative(u.tokenFile, file);
    authorization = () => {
      try {
        // Re-read every call: the token may rotate, as kubectl re-reads it.
        return `Bearer ${readFileSync(path, 'utf8').trim()}`;
      } catch (err) {
        throw new RuntimeFailure(`kubeconfig ${file}: user '${name}' tokenFile ${path} is not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
      }
    };
  } else if (u.username !== undefined && u.password !== undefined) {
    authorization = () => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
  }
  return { origin, authorization: async () => authorization(), tls: async () => ({ ...baseTls, cert, key }) };
}

interface ExecStatus { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string }

function execCredentials(
  exec: ExecConfig, name: string, file: string, cluster: ClusterTls, baseTls: { ca?: string; insecure: boolean; servername?: string },
  staticCert: { cert?: string; key?: string }, origin: string, opts: KubeconfigOptions,
): KubeCredentials {
  const where = `kubeconfig ${file}: user '${name}' exec`;
  if (!exec.command) throw new InputError(`${where}: command is missing.`);
  const apiVersion = exec.apiVersion ?? '';
  if (!EXEC_API_VERSIONS.includes(apiVersion)) throw new InputError(`${where}: apiVersion '${apiVersion}' is not one of ${EXEC_API_VERSIONS.join(', ')}.`);
  if (exec.interactiveMode === 'Always') throw new InputError(`${where}: interactiveMode Always needs a terminal; the planner runs without one. Log in with the plugin first, or use a plugin mode that caches credentials.`);
  // A relative command with a directory part is relative to the kubeconfig, as kubectl runs it.
  const command = exec.command.includes('/') && !isAbsolute(exec.command) ? join(dirname(file), exec.command) : exec.command;
  let cached: { status: ExecStatus; expiresMs: number } | undefined;
  let inflight: Promise<ExecStatus> | undefined;
  const run = (): Promise<ExecStatus> => new Promise((resolveRun, reject) => {
    const execInfo = {
      apiVersion, kind: 'ExecCredential',
      spec: { interactive: false, ...(exec.provideClusterInfo && { cluster: { server: cluster.server, 'certificate-authority-data': cluster.ca ? Buffer.from(cluster.ca).toString('base64') : undefined, 'insecure-skip-tls-verify': cluster.insecure } }) },
    };
    const env = { ...opts.env, ...Object.fromEntries((exec.env ?? []).map((e) => [e.name, e.value])), KUBERNETES_EXEC_INFO: JSON.stringify(execInfo) };
    execFile(command, exec.args ?? [], { env, timeout: opts.execTimeoutMs ?? 30_000, maxBuffer: EXEC_MAX_BYTES }, (err, stdout, stderr) => {
      if (err) {
        const hint = exec.installHint ? ` ${exec.installHint.trim()}` : '';
        const code = (err as NodeJS.ErrnoException).code;
        reject(new RuntimeFailure(`${where}: '${exec.command}' ${code === 'ENOENT' ? 'was not found' : `failed (${String(stderr).trim().split('\n')[0] || err.message})`}.${hint}`));
        return;
      }
      let cred: { apiVersion?: string; kind?: string; status?: ExecStatus };
      try {
        cred = JSON.parse(String(stdout));
      } catch {
        reject(new RuntimeFailure(`${where}: '${exec.command}' did not print an ExecCredential JSON object.`));
        return;
      }
      if (cred?.kind !== 'ExecCredential' || !cred.status || (!cred.status.token && !cred.status.clientCertificateData)) {
        reject(new RuntimeFailure(`${where}: '${exec.command}' printed no ExecCredential status with a token or a client certificate.`));
        return;
      }
      if (cred.apiVersion !== apiVersion) {
        reject(new RuntimeFailure(`${where}: '${exec.command}' answered apiVersion ${cred.apiVersion}, not the ${apiVersion} the kubeconfig asked for.`));
        return;
      }
      resolveRun(cred.status);
    });
  });
  const status = async (): Promise<ExecStatus> => {
    if (cached && Date.now() < cached.expiresMs) return cached.status;
    inflight ??= run().finally(() => { inflight = undefined; });
    const s = await inflight;
    // Renew a little before expiry; without an expiry the credential is kept for the whole run, as kubectl keeps it.
    const exp = s.expirationTimestamp ? Date.parse(s.expirationTimestamp) - 10_000 : Number.POSITIVE_INFINITY;
    cached = { status: s, expiresMs: Number.isFinite(exp) || exp === Number.POSITIVE_INFINITY ? exp : 0 };
    return s;
  };
  return {
    origin,
    authorization: async () => {
      const s = await status();
      return s.token ? `Bearer ${s.token.trim()}` : null;
    },
    tls: async () => {
      const s = await status();
      return { ...baseTls, cert: s.clientCertificateData ?? staticCert.cert, key: s.clientKeyData ?? staticCert.key };
    },
  };
}
