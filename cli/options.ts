/** Option pieces the commands share: the bootstrap flag, number parsers, and an example in the help. */
import { type Command, InvalidArgumentError } from 'commander';

export const defaultBootstrap = '127.0.0.1:9400';

/** Adds --bootstrap; on a command with subcommands it applies to all of them. */
export function withBootstrap(command: Command): Command {
  return command.option('--bootstrap <host:port>', 'the broker to talk to; a list h1:p1,h2:p2 is tried in turn', defaultBootstrap);
}

/** A parser for a whole number of at least `min`, for commander's argParser. */
export function wholeNumber(min: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) throw new InvalidArgumentError(`takes a whole number of at least ${min}.`);
    return value;
  };
}

/** Ends a command's help with examples. */
export function withExamples(command: Command, ...examples: string[]): Command {
  return command.addHelpText('after', `\nExample${examples.length === 1 ? '' : 's'}:\n${examples.map((example) => `  $ ${example}`).join('\n')}\n`);
}
