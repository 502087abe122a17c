//! `homeserver media …`: the operator's commands. They open the same data directory and
//! database as the server (while it runs, too).

use clap::Subcommand;

use crate::config::Config;

/// `homeserver media …`
#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// List media, newest first: id, size, type, uploader, name.
    List {
        /// One JSON object per line instead of columns.
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Delete a media: its row, what messages said of it, and its file unless another upload
    /// has the same content.
    Delete {
        /// The media id (`<uuid>@<server>`).
        id: String,
    },
    /// Apply retention now: remove media no message refers to that are older than
    /// MEDIA_GRACE_HOURS.
    Sweep,
}

/// Runs a `homeserver media` command.
pub fn run(config: Config, action: MediaCommand) -> anyhow::Result<()> {
    let state = crate::build_state(config)?;
    actix_web::rt::System::new().block_on(async move {
        match action {
            MediaCommand::List { json, limit } => {
                for row in super::list(&state, limit).await? {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({
                                "id": row.id, "filename": row.filename, "size": row.size,
                                "content_type": row.content_type, "uploader": row.uploader,
                                "sha256": row.sha256, "created_ms": row.created_ms,
                            })
                        );
                    } else {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            row.id, row.size, row.content_type, row.uploader, row.filename
                        );
                    }
                }
            }
            MediaCommand::Delete { id } => {
                if !super::delete(&state, &id).await? {
                    anyhow::bail!("no media {id}");
                }
                println!("deleted {id}");
            }
            MediaCommand::Sweep => {
                let n = super::sweep(&state).await?;
                println!("removed {n} media");
            }
        }
        Ok(())
    })
}
