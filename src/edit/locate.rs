//! Which config entry a name given by a person or an assistant means: the one bot of a kind
//! that a name (and an account) names, exactly, and the file holding it. Shared by the MCP
//! editing tools and `botform optimize --write`, so both edit exactly what was named.

use std::path::PathBuf;

use super::{BotList, BotRef};

/// A config bot an edit names: its entry (exactly) and the file holding it.
pub struct NamedBot {
    /// Its position in `Checked::bots` (or `Checked::grid_bots`).
    pub index: usize,
    pub entry: BotRef,
    pub file: PathBuf,
}

/// The config's entries of one kind of bot, in `Checked`'s order: name, account alias, span.
pub fn entries(
    checked: &crate::config::Checked,
    list: BotList,
) -> Vec<(Option<&str>, Option<&str>, crate::config::source::Span)> {
    match list {
        BotList::Dca => checked
            .bots
            .iter()
            .map(|b| (b.spec.name.as_deref(), b.spec.account.as_deref(), b.span()))
            .collect(),
        BotList::Grid => checked
            .grid_bots
            .iter()
            .map(|b| (b.spec.name.as_deref(), b.spec.account.as_deref(), b.span()))
            .collect(),
    }
}

/// The one config bot of `list` that `asked` names, on `account` when given (review: edits hit
/// exactly what was named). An exact name wins; another case is taken only when it names a
/// single bot (and a note says so); a name on two accounts needs the account. `Err` says what
/// to give instead.
pub fn find_bot(
    checked: &crate::config::Checked,
    list: BotList,
    asked: &str,
    account: &str,
) -> Result<(NamedBot, Option<String>), String> {
    let asked = asked.trim();
    let all = entries(checked, list);
    let noun = match list {
        BotList::Dca => "bot",
        BotList::Grid => "grid bot",
    };
    let on_account = |i: &usize| account.is_empty() || all[*i].1 == Some(account);
    let exact: Vec<usize> = (0..all.len())
        .filter(|i| all[*i].0 == Some(asked))
        .collect();
    let (candidates, note) = if exact.is_empty() {
        let loose: Vec<usize> = (0..all.len())
            .filter(|i| all[*i].0.is_some_and(|n| n.eq_ignore_ascii_case(asked)))
            .collect();
        let names: std::collections::BTreeSet<&str> =
            loose.iter().filter_map(|i| all[*i].0).collect();
        match names.len() {
            0 => {
                let hint = crate::diagnostic::did_you_mean(asked, all.iter().filter_map(|e| e.0))
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                // A bot defined in a file that leads outside the root was not read at all.
                let outside: Vec<String> = checked
                    .diagnostics
                    .iter()
                    .filter(|d| d.code == "outside-root")
                    .filter_map(|d| d.path.clone())
                    .collect();
                let outside = if outside.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (not read, as they lead outside the root through a link: {})",
                        outside.join(", ")
                    )
                };
                let other_kind = if list == BotList::Dca
                    && entries(checked, BotList::Grid)
                        .iter()
                        .any(|e| e.0 == Some(asked))
                {
                    " (a grid bot has that name: give `kind: \"grid\"`)"
                } else {
                    ""
                };
                return Err(format!(
                    "no config {noun} is named \"{}\"{hint}{outside}{other_kind}",
                    crate::diagnostic::quote_input(asked)
                ));
            }
            1 => {
                let found = names.into_iter().next().unwrap_or_default();
                let note = format!(
                    "\"{}\" was taken as the {noun} named \"{found}\", the only one of that name in another case",
                    crate::diagnostic::quote_input(asked)
                );
                (loose, Some(note))
            }
            _ => {
                return Err(format!(
                    "\"{}\" names no {noun} exactly, and several in other cases ({}): give the exact name",
                    crate::diagnostic::quote_input(asked),
                    names.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    } else {
        (exact, None)
    };
    let chosen: Vec<usize> = candidates.iter().copied().filter(on_account).collect();
    let index = match chosen.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "no {noun} \"{}\" is on account `{account}`",
                crate::diagnostic::quote_input(asked)
            ));
        }
        many => {
            let accounts: Vec<&str> = many.iter().map(|i| all[*i].1.unwrap_or("?")).collect();
            return Err(format!(
                "{} {noun}s are named \"{}\" (on accounts {}): give the account too",
                many.len(),
                crate::diagnostic::quote_input(asked),
                accounts.join(", ")
            ));
        }
    };
    Ok((named_bot(checked, list, index), note))
}

/// The entry of config bot `index` of `list`: its file, and which of that file's entries of its
/// name it is.
pub fn named_bot(checked: &crate::config::Checked, list: BotList, index: usize) -> NamedBot {
    let all = entries(checked, list);
    let (name, _, span) = all[index];
    let nth = all
        .iter()
        .filter(|(n, _, s)| *n == name && s.file == span.file && s.start < span.start)
        .count();
    NamedBot {
        index,
        entry: BotRef {
            list,
            name: name.unwrap_or_default().to_string(),
            nth,
        },
        file: checked.config.sources.get(span.file).path.clone(),
    }
}
