//! `kip logs NAME`: the node's bootstrap log, or its dockerd log.

use crate::backend::Backend;
use crate::cli::LogsArgs;
use anyhow::Result;
use futures_util::StreamExt;
use std::io::Write;

const DOCKERD_LOG: &str = "/var/log/kip/dockerd.log";

pub async fn run(args: &LogsArgs, backend: &impl Backend) -> Result<i64> {
    if args.dockerd {
        let command: Vec<String> = if args.follow {
            vec![
                "tail".into(),
                "-n".into(),
                "+1".into(),
                "-f".into(),
                DOCKERD_LOG.into(),
            ]
        } else {
            vec!["cat".into(), DOCKERD_LOG.into()]
        };
        return backend.exec(&args.name, &command, false).await;
    }
    let mut stdout = std::io::stdout().lock();
    if args.follow {
        let mut lines = backend.follow_bootstrap(&args.name).await?;
        while let Some(line) = lines.next().await {
            if writeln!(stdout, "{}", line?).is_err() {
                break;
            }
        }
    } else {
        let _ = stdout.write_all(backend.bootstrap_log(&args.name).await?.as_bytes());
    }
    Ok(0)
}
