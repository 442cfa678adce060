import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createUser } from '@nats-io/nkeys';
import { openEventStore } from '@weai/eventstore';
import { serviceConfigFromEnv } from '@weai/runtime';
import { CredentialCommands } from './application/credentials';
import { NatsConfigWriter } from './application/nats-config';
import { RegistryReader } from './application/registry.reader';
import { securityConfigFromEnv } from './config';

const USAGE = `usage (same environment as start:security; runs beside nats-server):
  npm run security -- keygen --out <file.nk>                      make an nkey user, print its public key
  npm run security -- issue --credential <id> --role <role> --principal <id> [--classes a.b,c.d]
                             (--public-key U… | --out <file.nk>)    record a credential, reload nats-server
  npm run security -- revoke --credential <id> --reason <text>    revoke, reload (live connections are cut)
  npm run security -- render                                      rewrite the users file from the store, reload`;

/** Writes a seed readable by its owner only, refusing to overwrite an existing file. */
function writeSeed(path: string, seed: string): void {
  writeFileSync(path, `${seed}\n`, { mode: 0o600, flag: 'wx' });
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { credential: { type: 'string' }, role: { type: 'string' }, principal: { type: 'string' }, classes: { type: 'string' }, 'public-key': { type: 'string' }, out: { type: 'string' }, reason: { type: 'string' } },
  });
  const command = positionals[0];
  if (command === 'keygen') {
    if (!values.out) throw new Error('--out is required');
    const pair = createUser();
    writeSeed(values.out, new TextDecoder().decode(pair.getSeed()));
    process.stdout.write(`${pair.getPublicKey()}\n`);
    return;
  }
  if (!['issue', 'revoke', 'render'].includes(command ?? '')) throw new Error(USAGE);
  const config = serviceConfigFromEnv(process.env, 'security', 'security');
  const security = securityConfigFromEnv(process.env);
  const store = await openEventStore(config.eventStore);
  try {
    const writer = new NatsConfigWriter(new RegistryReader(store), security);
    const commands = new CredentialCommands(store, writer);
    if (command === 'render') {
      process.stdout.write(`${await writer.apply()} users written to ${security.usersFile}; nats-server reloaded\n`);
    } else if (command === 'issue') {
      if (!values['public-key'] && !values.out) throw new Error('issue needs --public-key (preferred: the seed stays with its holder) or --out for a new seed file');
      const issued = await commands.issue(
        {
          credentialId: values.credential,
          role: values.role,
          principalId: values.principal,
          ...(values.classes !== undefined ? { capabilityClasses: values.classes.split(',').filter(Boolean) } : {}),
          ...(values['public-key'] ? { publicNkey: values['public-key'] } : {}),
        },
        new Date(),
      );
      if (issued.seed && values.out) writeSeed(values.out, issued.seed);
      process.stdout.write(`issued ${issued.credentialId} (${issued.publicNkey}); connect with NATS_INBOX_PREFIX=${issued.inboxPrefix}${values.out ? ` NATS_NKEY_SEED_FILE=${values.out}` : ''}\n`);
    } else {
      const { revoked } = await commands.revoke({ credentialId: values.credential, reason: values.reason }, new Date());
      process.stdout.write(revoked ? `revoked ${values.credential}; nats-server reloaded\n` : `${values.credential} was already revoked\n`);
    }
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
