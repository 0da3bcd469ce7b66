// src/monitoring/security.ts
// FIX 10: logger, authFailures, redis and alertManager are used but never imported/defined.
import { logger } from './logger';
import { authFailures } from './metrics';
import { redis } from '../cache';
import { alertManager } from './alertmanager';

export class SecurityMonitor {
  logAuthFailure(userId: string, reason: string, ip: string) {
    logger.warn('Authentication failure', {
      event: 'auth_failure',
      userId,
      reason,
      ip,
      timestamp: new Date().toISOString(),
    });
    
    // Increment metrics
    authFailures.labels(reason).inc();
  }
  
  logSuspiciousActivity(userId: string, activity: string, details: any) {
    logger.warn('Suspicious activity detected', {
      event: 'suspicious_activity',
      userId,
      activity,
      details,
      timestamp: new Date().toISOString(),
    });
    
    // Send alert if threshold reached
    this.checkAlertThreshold(userId, activity);
  }
  
  logSecurityViolation(type: string, details: any) {
    logger.error('Security violation', {
      event: 'security_violation',
      type,
      details,
      timestamp: new Date().toISOString(),
    });
    
    // Immediate alert
    this.sendSecurityAlert(type, details);
  }
  
  private async checkAlertThreshold(userId: string, activity: string) {
    const key = `security:${userId}:${activity}`;
    const count = await redis.incr(key);
    await redis.expire(key, 3600); // 1 hour window
    
    if (count > 10) {
      this.sendSecurityAlert('threshold_exceeded', {
        userId,
        activity,
        count,
      });
    }
  }
  
  private sendSecurityAlert(type: string, details: any) {
    // Send to security team
    alertManager.sendAlert({
      severity: 'critical',
      type: 'security',
      subtype: type,
      details,
    });
  }
}
