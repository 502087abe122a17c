//! `upload` and `download`.

use std::path::Path;

use hearth_client::message;

use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render;

/// `hearth upload FILE [--to TARGET] [-m TEXT]`: prints the media (and the message sent).
pub async fn upload(
    ctx: &Context,
    file: &Path,
    to: Option<&str>,
    text: Option<&str>,
) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let media = client.upload_file(file).await?;
    let Some(to) = to else {
        return ctx.emit(&media, || {
            format!(
                "{} {} ({}, {})",
                media.id,
                media.filename,
                media.content_type,
                render::size(media.size)
            )
        });
    };
    let mut req = message(to, text.unwrap_or(&media.filename));
    req.attachments = vec![media.id.clone()];
    let event = client.send_request(req).await?;
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// `hearth download ID [-o FILE]`: writes the file and prints where.
pub async fn download(ctx: &Context, id: &str, output: Option<&Path>) -> Result<(), CliError> {
    let client = ctx.authed()?;
    if output == Some(Path::new("-")) {
        let mut stdout = std::io::stdout().lock();
        client.download_to(id, &mut stdout).await?;
        return Ok(());
    }
    // Written to a temporary name first, then renamed to the server's name or `-o`.
    let partial = std::path::PathBuf::from(format!(".hearth-download-{}", std::process::id()));
    let mut file = std::fs::File::create(output.unwrap_or(&partial))?;
    let result = client.download_to(id, &mut file).await;
    let (bytes, name) = match result {
        Ok(done) => done,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(output.unwrap_or(&partial));
            return Err(e.into());
        }
    };
    let target = match output {
        Some(path) => path.to_path_buf(),
        None => {
            let target = std::path::PathBuf::from(name.unwrap_or_else(|| "download".into()));
            std::fs::rename(&partial, &target)?;
            target
        }
    };
    let shown = target.display().to_string();
    ctx.emit(
        &serde_json::json!({"id": id, "path": shown, "size": bytes}),
        || {
            format!(
                "{shown} ({})",
                render::size(i64::try_from(bytes).unwrap_or(i64::MAX))
            )
        },
    )
}
