import { TunnelCounters } from '../../shared/datapath/tunnel-counters.js';
import { TunnelSecurityAssociations, type PreparedSas } from '../../shared/datapath/tunnel-security-associations.js';

/** What a cleartext tunnel's path installs: no SAs. */
export const NO_SAS: PreparedSas = { esp: null, made: [] };

/** The counters and (empty) SA owner of a cleartext tunnel built by hand in a unit test. */
export function countersAndSas(name: string): { counters: TunnelCounters; sas: TunnelSecurityAssociations } {
  const counters = new TunnelCounters();
  return { counters, sas: new TunnelSecurityAssociations(null, name, counters, () => {}) };
}
