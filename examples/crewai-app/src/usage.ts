// What CostMonitor's get*Usage methods read: the resources this service runs on, per day
// (the "budget" fault multiplies the vCPUs by 20).
import os from 'node:os';
import { faults } from './faults';

export function currentUsage() {
  const vcpus = os.cpus().length * (faults.budget ? 20 : 1);
  return {
    compute: { hours: 24, vcpus: Math.min(vcpus, 4 * (faults.budget ? 20 : 1)) },
    storage: { gb: 100 },
    network: { egress: 10 },
    database: { hours: 24 },
  };
}
