//! `linkpatrol alert test [RECEIVER]`: sends a test message to one receiver (or each) and
//! prints the answer, so a user can check a webhook, its secret and its mentions before an
//! incident. One attempt, no retry: the point is to see what the receiver says.
//!
//! Exit codes: 0 every receiver accepted; 1 one did not (its answer is printed); 2 no
//! `alerts:` section or an unknown receiver name; 3 the tool itself failed.

use std::io::Write;

use anyhow::Context as _;

use super::{Context, ExitStatus, load_or_report};
use crate::alert::dispatch::{Clock, SystemClock};
use crate::alert::engine::{AlertKey, AlertKind, Detail, Event, Notification, Severity};
use crate::alert::message::Message;
use crate::alert::receiver;
use crate::cli::{AlertArgs, AlertCommand, AlertTestArgs};
use crate::terminal::printable;
use crate::topology::alerts::Receiver;

/// Runs `linkpatrol alert …`.
pub fn run(ctx: &Context, args: &AlertArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        AlertCommand::Test(t) => test(ctx, t),
    }
}

fn test(ctx: &Context, args: &AlertTestArgs) -> anyhow::Result<ExitStatus> {
    let Some(loaded) = load_or_report(ctx) else {
        return Ok(ExitStatus::Invalid);
    };
    let topology = loaded.topology;
    let Some(alerts) = &topology.alerts else {
        eprintln!(
            "error: `{}` has no `alerts:` section, so there is no receiver to test",
            printable(&ctx.file.display().to_string())
        );
        return Ok(ExitStatus::Invalid);
    };
    let chosen: Vec<&Receiver> = match &args.receiver {
        Some(name) => {
            let Some(r) = alerts.receiver(name) else {
                let names = alerts.receivers.iter().map(|r| r.name.as_str());
                let hint = crate::diag::closest(name, names)
                    .map(|best| format!(" (did you mean `{best}`?)"))
                    .unwrap_or_default();
                eprintln!(
                    "error: no receiver `{}` under `alerts.receivers`{}",
                    printable(name),
                    printable(&hint)
                );
                return Ok(ExitStatus::Invalid);
            };
            vec![r]
        }
        None => alerts.receivers.iter().collect(),
    };
    if chosen.is_empty() {
        eprintln!("error: `alerts.receivers` is empty");
        return Ok(ExitStatus::Invalid);
    }
    let client = receiver::client().map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let now = SystemClock.now_ms();
    let message = Message::single(
        &topology.name,
        Notification {
            event: Event::Test,
            key: AlertKey::new(AlertKind::RootCause, &topology.name),
            severity: Severity::Warning,
            owner: None,
            detail: Detail::default(),
            since_ms: now,
            at_ms: now,
            streak: 0,
        },
        args.external_url.as_deref(),
    );
    let mut all_ok = true;
    let mut out = std::io::stdout().lock();
    for r in chosen {
        let result = runtime.block_on(receiver::send(&client, r, &message, SystemClock.now_ms()));
        match result {
            Ok(answer) => {
                let verdict = match &answer.verdict {
                    Ok(()) => "accepted".to_owned(),
                    Err(why) => {
                        all_ok = false;
                        format!("refused: {why}")
                    }
                };
                writeln!(
                    out,
                    "{} ({}): {}\n  answer: HTTP {} {}",
                    printable(r.name.as_str()),
                    r.kind,
                    printable(&verdict),
                    answer.status,
                    printable(answer.body.trim())
                )?;
            }
            Err(why) => {
                all_ok = false;
                writeln!(
                    out,
                    "{} ({}): no answer: {}",
                    printable(r.name.as_str()),
                    r.kind,
                    printable(&why)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if all_ok {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}
