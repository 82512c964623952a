export async function simulateCommand(_args: string[]): Promise<number> {
  process.stderr.write('vidispine-auth-proxy: "simulate" is not implemented yet\n');
  return 1;
}
