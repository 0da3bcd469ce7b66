// FIX 10 (continued): the `alertManager` SecurityMonitor sends to. The guide never defines it; this
// one posts the alert to an Alertmanager API v2 (pharos' built-in one, ALERTMANAGER_URL).
import { logger } from './logger';

export interface AppAlert { severity: string; type: string; subtype: string; details: unknown }

export const alertManager = {
  async sendAlert(alert: AppAlert) {
    const base = process.env.ALERTMANAGER_URL;
    if (!base) return;
    const body = [{
      labels: { alertname: 'SecurityAlert', service: 'crewai-api', severity: alert.severity, type: alert.type, subtype: alert.subtype },
      annotations: { summary: `Security alert: ${alert.subtype}`, description: JSON.stringify(alert.details) },
      startsAt: new Date().toISOString(),
    }];
    try {
      const res = await fetch(`${base}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) logger.error('Alertmanager rejected the alert', { status: res.status });
    } catch (e) {
      logger.error('Alertmanager unreachable', { message: (e as Error).message });
    }
  },
};
