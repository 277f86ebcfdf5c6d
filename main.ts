// The one `floodgate` command: floodgate <gateway|operator|injector|crds> [flags]
import { enableCompileCache } from 'node:module';

// Node strips the types of every .ts file it loads with a WebAssembly compiler whose memory only
// grows (~30 MiB of the gateway's RSS at start); the compile cache keeps the stripped and compiled
// modules of the command on disk, so a later start strips only this file (docs/performance.md).
// Where the cache directory is not writable this does nothing. NODE_COMPILE_CACHE picks the place.
enableCompileCache();
const COMMANDS: Record<string, { help: string; run: (argv: string[]) => Promise<number | void> }> = {
  // `gateway find`, `jobs` and `gc` are clients of a running gateway: they load none of the gateway's modules.
  gateway: {
    help: 'run the S3 gateway',
    run: async (a) => (a[0] === 'find' ? (await import('./proxy/admin/find-cli.ts')).runFind(a.slice(1))
      : a[0] === 'jobs' ? (await import('./proxy/admin/jobs-cli.ts')).runJobs(a.slice(1))
        : a[0] === 'gc' ? (await import('./proxy/admin/gc-cli.ts')).runGc(a.slice(1))
          : (await import('./proxy/cli.ts')).runGateway(a)),
  },
  operator: { help: 'run the Kubernetes operator', run: async (a) => (await import('./operator/main.ts')).runOperator(a) },
  crds: { help: 'write (or --print, --check) the CRD YAML', run: async (a) => (await import('./crds/generate.ts')).runCrds(a) },
  injector: { help: 'run the fault-injecting S3 sidecar', run: runInjectorCommand },
};

/** The injector serves until a signal, on which it exits by itself; --help returns at once. */
async function runInjectorCommand(argv: string[]): Promise<number> {
  const { runInjector } = await import('./injector/main.ts');
  try {
    await runInjector(argv);
  } catch (e) {
    process.stderr.write(`floodgate injector: ${(e as Error).message}\n`);
    return 2;
  }
  return argv.includes('--help') ? 0 : new Promise<number>(() => {});
}

function usage(): string {
  return ['Usage: floodgate <command> [flags]', '', 'Commands:',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.help}`),
    '', 'Run `floodgate <command> --help` for its flags; `floodgate [<command>] --version` prints the version.'].join('\n');
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === '--version' || cmd === '-v' || (cmd !== undefined && cmd in COMMANDS && args.includes('--version'))) {
  const { VERSION } = await import('./version.ts');
  process.stdout.write(`floodgate ${VERSION}\n`);
  process.exit(0);
}
// -h is --help for every subcommand, whatever flag parser it uses.
const rest = args.map((a) => (a === '-h' ? '--help' : a));
if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
  process.stdout.write(usage() + '\n');
  process.exit(cmd ? 0 : 2);
}
const command = COMMANDS[cmd];
if (!command) {
  process.stderr.write(`floodgate: unknown command "${cmd}"\n\n${usage()}\n`);
  process.exit(2);
}
const code = await command.run(rest);
process.exit(typeof code === 'number' ? code : 0);
