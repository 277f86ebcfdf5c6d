// The admission webhooks inside the operator, on every replica (a standby answers admission too):
//
//   startWebhooks ─┬─ caBundle.ts  ensurePki (Secret) ─▶ ca.ts (der.ts) · patchCaBundle ×2
//                  ├─ server.ts    HTTPS AdmissionReview ─▶ admission.ts ─┬─ inject.ts (pods)
//                  │                                                      └─ validate.ts (FaultExperiments)
//                  └─ tokens.ts    token Secrets owned by their pods (then GC'd with them)
import type { Kube } from '../kube/api.ts';
import { admissionRoutes } from './admission.ts';
import { ensurePki, patchCaBundle, type WebhookPki } from './caBundle.ts';
import type { WebhookConfig } from './flags.ts';
import { startWebhookServer } from './server.ts';
import { startTokenJanitor } from './tokens.ts';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface Webhooks {
  url: string;
  pki(): WebhookPki;
  close(): Promise<void>;
}

const STARTUP_ATTEMPTS = 30;

export async function startWebhooks(kube: Kube, cfg: WebhookConfig, log: Log, o: { checkEveryMs?: number; now?: () => Date } = {}): Promise<Webhooks> {
  const now = o.now ?? (() => new Date());
  const load = () => ensurePki(kube, { namespace: cfg.settings.operatorNamespace, name: cfg.secretName, hosts: cfg.hosts, now });
  let pki: WebhookPki | undefined;
  for (let i = 1; !pki; i++) {
    try {
      pki = await load();
    } catch (e) {
      if (i >= STARTUP_ATTEMPTS) throw new Error(`webhook certificate Secret ${cfg.settings.operatorNamespace}/${cfg.secretName}: ${(e as Error).message}`, { cause: e });
      log('warn', 'webhook certificate not loaded yet, retrying', { attempt: i, error: (e as Error).message });
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
  const janitor = startTokenJanitor(kube, { log });
  const server = await startWebhookServer({
    host: cfg.listen.host, port: cfg.listen.port, cert: pki.serving, log,
    routes: admissionRoutes({ kube, settings: cfg.settings, log }),
  });

  async function syncBundles(): Promise<void> {
    for (const [kind, name] of [['mutating', cfg.mutatingName], ['validating', cfg.validatingName]] as const) {
      try {
        const n = await patchCaBundle(kube, kind, name, pki!.caBundle);
        if (n) log('info', 'webhook caBundle written', { configuration: `${kind}webhookconfigurations/${name}`, webhooks: n });
      } catch (e) {
        log('warn', 'webhook caBundle not written', { configuration: `${kind}webhookconfigurations/${name}`, error: (e as Error).message });
      }
    }
  }
  await syncBundles();

  // Renewal and drift: the Secret and both caBundles are checked again on a timer.
  const timer = setInterval(() => void (async () => {
    try {
      const next = await load();
      if (next.serving.certPem !== pki!.serving.certPem) {
        server.setCertificate(next.serving);
        log('info', 'webhook serving certificate renewed');
      }
      pki = next;
      await syncBundles();
    } catch (e) {
      log('warn', 'webhook certificate check failed', { error: (e as Error).message });
    }
  })(), o.checkEveryMs ?? cfg.checkEveryMs);
  timer.unref();

  log('info', 'admission webhooks serving', { url: server.url, secret: `${cfg.settings.operatorNamespace}/${cfg.secretName}`, protectedNamespaces: cfg.settings.protectedNamespaces });
  return {
    url: server.url,
    pki: () => pki!,
    async close() {
      clearInterval(timer);
      janitor.stop();
      await server.close();
    },
  };
}
