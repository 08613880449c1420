/**
 * Keep-alive connections to the API server.
 *
 * client-node 1.4 builds a new `https.Agent` for every API request (`applySecurityAuthentication`),
 * and an agent owns its sockets: no request ever reuses a connection, so each one pays a TCP and a
 * TLS handshake, on our side and on the API server's. On loopback that was most of a request's
 * 7–10 ms, and it is CPU the API server spends again for every ledger read and write.
 *
 * {@link reuseConnections} makes a KubeConfig hand its API clients one keep-alive agent per server
 * and TLS identity (CA, client certificate, key, server name, verification). Bearer tokens travel
 * in headers, not in the agent, so a rotated token needs no new agent; a rotated client certificate
 * gets one. Watches (`applyToHTTPSOptions`) keep their own agent: they hold their connection anyway.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** Idle sockets are closed after this, as Node's own global agent does (below any server idle timeout). */
const IDLE_SOCKET_MS = 5_000;

const reusing = new WeakSet<KubeConfig>();

export function reuseConnections(kc: KubeConfig): KubeConfig {
  if (reusing.has(kc)) return kc;
  reusing.add(kc);
  const agents = new Map<string, HttpAgent | HttpsAgent>();
  const apply = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await apply(context);
    const fresh = context.getAgent();
    // Proxies (their own agent classes) are left as client-node makes them.
    if (!fresh || (fresh.constructor !== HttpsAgent && fresh.constructor !== HttpAgent)) return;
    const options = (fresh as HttpsAgent).options as AgentOptions;
    const key = agentKey(new URL(context.getUrl()).origin, options);
    let agent = agents.get(key);
    if (!agent) {
      const keepAlive = { ...options, keepAlive: true, timeout: options.timeout ?? IDLE_SOCKET_MS };
      agent = fresh instanceof HttpsAgent ? new HttpsAgent(keepAlive) : new HttpAgent(keepAlive);
      agents.set(key, agent);
    }
    context.setAgent(agent);
  };
  return kc;
}

/** What makes two agents interchangeable: the server and everything of TLS that the agent carries. */
function agentKey(origin: string, o: AgentOptions): string {
  const part = (v: unknown): string =>
    v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('base64') : JSON.stringify(v);
  return createHash('sha256')
    .update(
      [origin, o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]
        .map(part)
        .join('\0'),
    )
    .digest('hex');
}
