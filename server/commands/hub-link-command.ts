import type { Command } from 'commander';
import { TunnelError } from '../../shared/errors.js';
import { withHubState } from '../hub-state/hub-state.js';
import { HUB_LINK_ENCAPS, type HubLinkEncap } from '../registry/hub-link-store.js';
import { describeHubLinkEncap } from './describe-hub-link-encap.js';
import { hubStateDir } from './hub-state-dir.js';
import { printJson, printText } from './write-output.js';

/** What `--encap` takes: an encapsulation to pin, or `auto` to let the hubs switch it again. */
export function parseHubLinkEncap(text: string): HubLinkEncap | null {
  if (text === 'auto') return null;
  if ((HUB_LINK_ENCAPS as readonly string[]).includes(text)) return text as HubLinkEncap;
  throw new TunnelError('ERR_INVALID_ARGUMENT', `--encap takes ${HUB_LINK_ENCAPS.join(', ')} or auto, not "${text}"`);
}

/** `tunnel-hub hubs link A B --encap gre|fou|auto`: pins or frees the encapsulation of a pair's link, from any hub of the cluster. */
export function registerHubLinkCommand(hubs: Command): void {
  hubs
    .command('link <hub-a> <hub-b>')
    .description('pin the tunnel between two hubs to gre or fou, or let the hubs choose (auto: gre, fou when gre goes unanswered)')
    .requiredOption('--encap <encap>', 'gre, fou or auto')
    .option('--json', 'print JSON only')
    .action((a: string, b: string, _options: unknown, command: Command) => {
      // `hubs` takes --json too, and parses it wherever it stands.
      const options = command.optsWithGlobals<{ encap: string; json?: boolean }>();
      const encap = parseHubLinkEncap(options.encap);
      return withHubState(hubStateDir(command), async ({ registry, cluster }) => {
        if (!cluster) throw new TunnelError('ERR_HUB_NOT_FOUND', 'this hub runs alone: hub links join the hubs of a cluster (`tunnel-hub init --registry postgres://… --hub-name NAME`)');
        const link = await registry.hubLinks.pin(a, b, encap);
        if (options.json) return printJson({ hubs: link.hubs, prefix: link.prefix, encap: link.encap, reason: link.encapReason, pinned: link.pinned });
        printText(`${link.hubs[0]}<->${link.hubs[1]}: ${describeHubLinkEncap(link)}${link.pinned ? '' : ', switched by the hubs when unanswered'}`);
      });
    });
}
