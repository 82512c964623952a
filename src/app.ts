/** Composition root: config → token store → listeners → ops; start and stop. */

function notYet(name: string): (args: string[]) => Promise<number> {
  return async () => {
    process.stderr.write(`vidispine-auth-proxy: "${name}" is not implemented yet\n`);
    return 1;
  };
}

export const runCommand = notYet('run');
export const checkCommand = notYet('check');
export const demoCommand = notYet('demo');
