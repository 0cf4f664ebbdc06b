//! A tiny hand-written argument parser, so that xtask builds before anything else is installed.

use anyhow::{Context, Result, bail};

/// The arguments of one subcommand, consumed flag by flag and then checked for leftovers.
pub struct Args {
    /// Arguments not consumed yet (everything before a `--`).
    rest: Vec<String>,
    /// Everything after a `--`, passed through untouched.
    passthrough: Vec<String>,
}

impl Args {
    /// Splits `args` at the first `--`.
    pub fn new(args: Vec<String>) -> Self {
        let mut rest = args;
        let passthrough = match rest.iter().position(|a| a == "--") {
            Some(at) => {
                let tail = rest.split_off(at);
                tail.into_iter().skip(1).collect()
            }
            None => Vec::new(),
        };
        Self { rest, passthrough }
    }

    /// True when `--help` or `-h` is present (it is removed).
    pub fn help(&mut self) -> bool {
        let a = self.flag("--help");
        let b = self.flag("-h");
        a || b
    }

    /// True when the flag `name` is present (every occurrence is removed).
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// Removes and returns the first argument that is not a flag.
    pub fn positional(&mut self) -> Option<String> {
        let at = self.rest.iter().position(|a| !a.starts_with('-'))?;
        Some(self.rest.remove(at))
    }

    /// The value of `--name VALUE` or `--name=VALUE`, if present.
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        let mut found = None;
        let mut i = 0;
        while i < self.rest.len() {
            if self.rest[i] == name {
                if i + 1 >= self.rest.len() {
                    bail!("{name} needs a value");
                }
                found = Some(self.rest.remove(i + 1));
                self.rest.remove(i);
            } else if let Some(v) = self.rest[i].strip_prefix(&prefix) {
                found = Some(v.to_owned());
                self.rest.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(found)
    }

    /// The value of `--name N` parsed as an unsigned number, or `default`.
    pub fn number(&mut self, name: &str, default: u64) -> Result<u64> {
        match self.value(name)? {
            Some(v) => v
                .parse()
                .with_context(|| format!("{name} expects a whole number, got {v:?}")),
            None => Ok(default),
        }
    }

    /// Fails on any argument nobody consumed; returns what followed `--`.
    pub fn finish(self, command: &str) -> Result<Vec<String>> {
        if let Some(unknown) = self.rest.first() {
            bail!("unexpected argument {unknown:?} for `cargo xtask {command}` (see --help)");
        }
        Ok(self.passthrough)
    }
}
