import type { Command } from 'commander';
import { LINK_AEAD } from '../control/link-sa-keys.js';
import { withHubState } from '../hub-state/hub-state.js';
import { hubStateDir } from './hub-state-dir.js';
import { printText } from './write-output.js';

/** `tunnel-hub peer rekey NAME`: new SAs for every link of the peer. */
export function registerPeerRekeyCommand(peer: Command): void {
  peer
    .command('rekey <name>')
    .description("new SAs for every link of NAME: a running hub moves tunnel-client members to them make-before-break; a router must apply its config again (`peer config NAME TARGET`)")
    .addHelpText('after', '\nA router holds static SAs: rekey it by hand from time to time, and after anything that may have shown its config to others.')
    .action((name: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const rekeyed = await registry.saEpochs.rekeyPeer(name, LINK_AEAD);
        printText(`peer ${name}: new SAs for ${rekeyed.length} link${rekeyed.length === 1 ? '' : 's'} (epoch${rekeyed.length === 1 ? '' : 's'} ${rekeyed.map((entry) => entry.epoch).join(', ')}); `
          + `a router applies \`tunnel-hub peer config ${name} TARGET\` again, tunnel-client members follow by themselves`);
      }));
}
