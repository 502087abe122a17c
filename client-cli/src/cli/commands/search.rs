//! `hearth search`.

use federation_proto::api::client::SearchQuery;

use crate::cli::args::SearchArgs;
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render;

/// `hearth search QUERY… [--in T] [--from U] [--has attachment|link] [--before] [--after]
/// [--limit] [--next]`: one page, most relevant first, as lines like `hearth history` with the
/// conversation; the command for the next page last.
pub async fn search(ctx: &Context, args: &SearchArgs) -> Result<(), CliError> {
    let query = SearchQuery {
        q: Some(args.query.join(" ")),
        in_: args.in_.clone(),
        from: args.from.clone(),
        has: args.has.clone(),
        before: args.before.clone(),
        after: args.after.clone(),
        limit: Some(args.limit),
        next: args.next.clone(),
    };
    let resp = ctx.authed()?.search(&query).await?;
    let local = ctx.local_server();
    ctx.emit(&resp, || {
        let mut lines: Vec<String> = resp
            .results
            .iter()
            .map(|r| {
                let mut event = r.event.clone();
                event.body = render::bracketed(&event.body, &r.highlights);
                render::line(&event, local.as_deref(), true)
            })
            .collect();
        if resp.results.is_empty() {
            lines.push("no results".to_string());
        }
        if let Some(next) = &resp.next {
            lines.push(format!("more: add --next {next}"));
        }
        lines.join("\n")
    })
}
