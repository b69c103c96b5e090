//! `gregor completions SHELL` and `gregor man`: generated from the clap definitions, so they
//! never drift from the flags (clap_complete, clap_mangen).

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `gregor completions`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  gregor completions bash > /etc/bash_completion.d/gregor
  gregor completions zsh > \"${fpath[1]}/_gregor\"
  gregor completions fish > ~/.config/fish/completions/gregor.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `gregor man`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  gregor man | man -l -
  gregor man --dir /usr/local/share/man/man1    # gregor.1, gregor-consume.1, ...")]
pub struct ManArgs {
    /// Write gregor.1 and one gregor-COMMAND.1 per command into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = crate::command();
    clap_complete::generate(args.shell, &mut cmd, "gregor", &mut std::io::stdout());
    Ok(())
}

/// Prints or writes the man pages.
pub fn man(args: ManArgs) -> anyhow::Result<()> {
    let cmd = crate::command();
    match args.dir {
        None => {
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir).with_context(|| format!("writing man pages to {}", dir.display()))?;
        }
    }
    Ok(())
}
