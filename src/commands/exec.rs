//! `kip exec NAME -- CMD…`: runs CMD in the node; its exit code is kip's.

use crate::backend::Backend;
use crate::cli::ExecArgs;
use anyhow::Result;

pub async fn run(args: &ExecArgs, backend: &impl Backend) -> Result<i64> {
    backend
        .exec(&args.name, &args.command, args.interactive)
        .await
}
