//! The MCP editing tools: change config files under the root without the host's file tools, in
//! place, keeping comments and layout (the `edit` module does the splicing). Each tool returns the
//! unified diff of what it changed and the validate result, and refuses an edit that would leave
//! the config invalid unless asked to write it anyway. Nothing here touches the 3Commas account:
//! `plan` shows what an edit means there.

use std::path::{Path, PathBuf};

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{BotformServer, budget, paths};
use crate::config::source::{SourceFile, Syntax};
use crate::edit::locate::{entries, find_bot, named_bot};
use crate::edit::{self, BotList, BotRef, Edited, Entity, Op};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetFieldsArgs {
    /// Exact bot names (another case if unique); `["*"]`: all. One of bots, selector, template,
    /// account, settings.
    #[serde(default)]
    pub bots: Vec<String>,
    /// With `bots`: `dca` or `grid`.
    #[serde(default)]
    pub kind: String,
    /// The config bots a selector picks (as `list_bots` shows).
    #[serde(default)]
    pub selector: Option<crate::engine::selector::Selector>,
    /// With `bots`: the account alias, when a name is on two accounts.
    #[serde(default)]
    pub on_account: String,
    /// A template (`[templates.NAME]`): every bot using it changes.
    #[serde(default)]
    pub template: String,
    /// An account alias (`[accounts.ALIAS]`).
    #[serde(default)]
    pub account: String,
    /// The `[settings]` table.
    #[serde(default)]
    pub settings: bool,
    /// Config names (`describe_config`) to values; null removes. Decimals as strings ("1.25").
    #[serde(default)]
    #[schemars(with = "Map<String, Value>")]
    pub fields: Map<String, Value>,
    /// Add to the effective values (negative lowers): `{"take_profit": "-0.2"}`.
    #[serde(default)]
    #[schemars(with = "Map<String, Value>")]
    pub add: Map<String, Value>,
    /// Write even when the result is invalid.
    #[serde(default)]
    pub write_invalid: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBotArgs {
    /// The new bot's name (unique on its account).
    pub name: String,
    /// `dca` or `grid`.
    #[serde(default)]
    pub kind: String,
    /// Copy this bot's entry (on `account` if two), then apply the rest.
    #[serde(default)]
    pub from_bot: String,
    /// The template to start from.
    #[serde(default)]
    pub template: String,
    /// The account alias.
    #[serde(default)]
    pub account: String,
    /// DCA pairs (`USDT_ETH`).
    #[serde(default)]
    pub pairs: Vec<String>,
    /// Other fields, by config name.
    #[serde(default)]
    #[schemars(with = "Map<String, Value>")]
    pub fields: Map<String, Value>,
    /// File under the root; empty: beside similar bots.
    #[serde(default)]
    pub file: String,
    /// Write even when the result is invalid.
    #[serde(default)]
    pub write_invalid: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBotArgs {
    /// The bot, by exact name (another case only when it names one bot).
    pub bot: String,
    /// `dca` or `grid`.
    #[serde(default)]
    pub kind: String,
    /// The bot's account alias, needed when its name is on two accounts.
    #[serde(default)]
    pub account: String,
    /// `absent` (default: apply deletes it) or `forget` (drop the entry, leave the live bot).
    #[serde(default)]
    pub how: String,
    #[serde(default)]
    pub write_invalid: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlacklistArgs {
    /// Pairs in 3Commas' form (`USDT_LUNA`).
    pub pairs: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EditAnswer {
    /// False when the edit was refused: nothing was written.
    pub written: bool,
    /// Files changed (or that would have changed), relative to the root.
    pub files: Vec<String>,
    /// Unified diff of the edit.
    pub diff: String,
    /// The config after the edit.
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    /// The errors after the edit (as many as fit).
    pub errors: Vec<crate::diagnostic::JsonDiagnostic>,
    /// How names given were matched, when not exactly (`alpha` taken as the only bot `Alpha`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub next: String,
}

/// The config files under the root, read.
struct RootFiles {
    files: Vec<(PathBuf, String)>,
}

impl RootFiles {
    fn read(root: &Path) -> Result<RootFiles, String> {
        let mut diagnostics = Vec::new();
        let mut files = Vec::new();
        for path in crate::config::load::discover_confined(root, &mut diagnostics) {
            paths::inside(root, &path)?;
            let text = crate::files::read_bounded(&path, crate::files::MAX_CONFIG_FILE_BYTES)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            files.push((path, text));
        }
        Ok(RootFiles { files })
    }

    /// Each file's data, for finding what lives where (files that do not parse are skipped: they
    /// are reported by validate).
    fn trees(&self) -> Vec<(PathBuf, Value)> {
        self.files
            .iter()
            .filter_map(|(path, text)| {
                let syntax = Syntax::from_path(path)?;
                let file = SourceFile::new(path.clone(), syntax, text.clone());
                let tree =
                    crate::config::node::parse(crate::config::source::FileId(0), &file).ok()?;
                Some((path.clone(), tree.to_json()))
            })
            .collect()
    }

    fn text(&self, path: &Path) -> Option<&str> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.as_str())
    }

    /// The files holding an entity.
    fn holding(&self, entity: &Entity) -> Vec<PathBuf> {
        self.trees()
            .into_iter()
            .filter(|(_, tree)| match entity {
                Entity::Settings => tree.get("settings").is_some(),
                Entity::Template(n) => tree.get("templates").and_then(|t| t.get(n)).is_some(),
                Entity::Account(n) => tree.get("accounts").and_then(|t| t.get(n)).is_some(),
                Entity::Bot(b) => bot_entry(tree, b).is_some(),
            })
            .map(|(p, _)| p)
            .collect()
    }
}

/// A bot entry in one file's data.
fn bot_entry<'a>(tree: &'a Value, bot: &BotRef) -> Option<&'a Map<String, Value>> {
    let bots = tree.get(bot.list.key())?.as_array()?;
    let i = bot.position(bots.iter().map(|b| b.get("name").and_then(Value::as_str)))?;
    bots[i].as_object()
}

/// Hold the edit lock of the config root while an edit reads, checks and writes: edits of one
/// root, from this server's concurrent calls or from other servers on the machine, run one at a
/// time, so none is lost (review: 18 of 44 concurrent edits were, each answering "written").
/// A writer outside botform is still caught by [`edit::write`]'s "changed underneath" check.
pub(super) async fn edit_lock(root: &Path) -> Result<std::fs::File, String> {
    use sha2::Digest;
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let digest = sha2::Sha256::digest(canonical.to_string_lossy().as_bytes());
    let name: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let path = crate::files::lock_dir()
        .map_err(|e| format!("cannot take the edit lock: {e}"))?
        .join(format!("edit-{name}.lock"));
    let file = crate::files::open_lock_file(&path)
        .map_err(|e| format!("cannot take the edit lock: {e}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err("another edit of this config has held it for 30 s; nothing was written: try again".into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot take the edit lock: {e}"));
            }
        }
    }
}

/// Edits gathered per file, each applied on the text the previous one left.
#[derive(Default)]
struct Pending {
    edits: Vec<Edited>,
    /// How the names given were matched, for the answer.
    notes: Vec<String>,
}

/// The kind of bot a tool's `kind` names: `dca` (or empty) or `grid`.
fn list_of(kind: &str) -> Result<BotList, String> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "" | "dca" => Ok(BotList::Dca),
        "grid" => Ok(BotList::Grid),
        other => Err(format!(
            "kind `{}`: use `dca` (default) or `grid`",
            crate::diagnostic::quote_input(other)
        )),
    }
}

impl Pending {
    fn add(&mut self, files: &RootFiles, path: &Path, op: &Op) -> Result<(), String> {
        let current = match self.edits.iter().find(|e| e.path == path) {
            Some(e) => e.after.clone(),
            None => files.text(path).unwrap_or("").to_string(),
        };
        let edited = edit::apply(path, &current, op)?;
        match self.edits.iter_mut().find(|e| e.path == path) {
            Some(e) => e.after = edited.after,
            None => self.edits.push(Edited {
                path: path.to_path_buf(),
                before: files.text(path).unwrap_or("").to_string(),
                after: edited.after,
            }),
        }
        Ok(())
    }
}

impl BotformServer {
    /// Check the config as the edits leave it; write them unless that makes it invalid (and
    /// `write_invalid` is not set).
    fn finish_edit(
        &self,
        files: &RootFiles,
        pending: Pending,
        write_invalid: bool,
    ) -> Result<Json<EditAnswer>, String> {
        let root = &self.inner.root;
        let mut sources = Vec::new();
        for (path, text) in &files.files {
            let text = pending
                .edits
                .iter()
                .find(|e| e.path == *path)
                .map(|e| e.after.clone())
                .unwrap_or_else(|| text.clone());
            if let Some(syntax) = Syntax::from_path(path) {
                sources.push(SourceFile::new(path.clone(), syntax, text));
            }
        }
        for e in pending
            .edits
            .iter()
            .filter(|e| files.text(&e.path).is_none())
        {
            paths::inside(root, &e.path)?;
            if let Some(syntax) = Syntax::from_path(&e.path) {
                sources.push(SourceFile::new(e.path.clone(), syntax, e.after.clone()));
            }
        }
        let checked = crate::config::check_sources(sources);
        let report = crate::report::build(&checked);
        let rel = |f: &str| paths::relative(root, Path::new(f));
        let mut errors: Vec<_> = report
            .diagnostics
            .into_iter()
            .filter(|d| d.severity == crate::diagnostic::Severity::Error)
            .map(|mut d| {
                d.file = d.file.as_deref().map(rel);
                for l in &mut d.labels {
                    l.file = rel(&l.file);
                }
                d
            })
            .collect();
        budget::fit(&mut errors, budget::ANSWER_BUDGET / 4);
        let mut diff: String = pending
            .edits
            .iter()
            .map(|e| e.diff(&rel(&e.path.display().to_string())))
            .collect();
        if diff.chars().count() > budget::PAGE_CHARS / 2 {
            let cut: String = diff.chars().take(budget::PAGE_CHARS / 2).collect();
            diff = format!("{cut}\n... (diff cut to fit; read the files for the rest)\n");
        }
        let valid = report.valid;
        let write = valid || write_invalid;
        if write {
            for e in &pending.edits {
                paths::inside(root, &e.path)?;
            }
            edit::write(&pending.edits).map_err(|e| self.relativize(e))?;
        }
        let next = match (write, valid) {
            (true, true) => "written. Call `plan` to see what this changes on 3Commas, and show it to the person.".to_string(),
            (true, false) => "written, but the config is invalid: fix the errors before `plan`.".to_string(),
            (false, _) => "refused: the edit would make the config invalid (errors below); nothing was written. Fix the edit, or pass write_invalid to write it anyway.".to_string(),
        };
        Ok(Json(EditAnswer {
            written: write,
            files: pending
                .edits
                .iter()
                .map(|e| rel(&e.path.display().to_string()))
                .collect(),
            diff,
            valid,
            error_count: report.error_count,
            warning_count: report.warning_count,
            errors,
            notes: pending.notes,
            next,
        }))
    }

    /// The one file holding an entity, or why not.
    fn file_of(files: &RootFiles, entity: &Entity) -> Result<PathBuf, String> {
        let holding = files.holding(entity);
        match holding.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(format!("no config file under the root defines {entity}")),
            many => Err(format!(
                "{entity} is defined in {} files; edit it by hand",
                many.len()
            )),
        }
    }
}

/// `a + b` for decimal values given as JSON numbers or strings.
fn add_decimal(field: &str, current: Option<&Value>, delta: &Value) -> Result<Value, String> {
    let parse = |v: &Value| -> Option<crate::model::decimal::Decimal> {
        match v {
            Value::Number(n) => n.to_string().parse().ok(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    };
    let current = current.and_then(parse).ok_or_else(|| {
        format!(
            "`{}` has no number to add to: set it with `fields`",
            crate::diagnostic::quote_input(field)
        )
    })?;
    let delta = parse(delta).ok_or_else(|| format!("`add.{field}` is not a number"))?;
    Ok(Value::String((current + delta).normalize().to_string()))
}

#[tool_router(router = edits_router, vis = "pub(super)")]
impl BotformServer {
    /// Set or add to fields of bots (names or selector), a template, an account or the settings,
    /// keeping comments. Returns the diff and validation.
    #[tool(
        title = "Set config fields",
        annotations(
            title = "Set config fields",
            read_only_hint = false,
            // It overwrites or removes what the files said (the diff shows what).
            destructive_hint = true,
            open_world_hint = false,
            idempotent_hint = false
        )
    )]
    async fn set_fields(
        &self,
        Parameters(args): Parameters<SetFieldsArgs>,
    ) -> Result<Json<EditAnswer>, String> {
        let chosen = [
            !args.bots.is_empty(),
            args.selector.is_some(),
            !args.template.is_empty(),
            !args.account.is_empty(),
            args.settings,
        ];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err(
                "give exactly one of `bots`, `selector`, `template`, `account` or `settings`"
                    .into(),
            );
        }
        if args.fields.is_empty() && args.add.is_empty() {
            return Err("nothing to set: give `fields` or `add`".into());
        }
        let list = list_of(&args.kind)?;
        if list == BotList::Grid && args.bots.is_empty() {
            return Err("`kind: \"grid\"` goes with `bots` (grid bots by name)".into());
        }
        let _one_edit_at_a_time = edit_lock(&self.inner.root).await?;
        let files = RootFiles::read(&self.inner.root)?;
        let checked = crate::config::check_confined(&self.inner.root);
        let mut pending = Pending::default();
        // Each target: the entity, the file holding it, and (for a bot) its place in `checked`.
        let mut targets: Vec<(Entity, PathBuf, Option<usize>)> = Vec::new();
        if let Some(selector) = &args.selector {
            let desired = crate::engine::desired::from_checked(&checked);
            let (indexes, unmanaged) = self.select_config_bots(selector, &desired).await?;
            if indexes.is_empty() {
                return Err(format!(
                    "the selector selects no config bot{}: list_bots shows what it selects",
                    if unmanaged > 0 {
                        format!(
                            " ({unmanaged} live bots without a config entry: import them first)"
                        )
                    } else {
                        String::new()
                    }
                ));
            }
            pending.notes.push(format!(
                "the selector selected {} config bots",
                indexes.len()
            ));
            if unmanaged > 0 {
                pending.notes.push(format!(
                    "{unmanaged} selected live bots have no config entry and were left alone (import them first)"
                ));
            }
            for index in indexes {
                let bot = named_bot(&checked, BotList::Dca, index);
                targets.push((Entity::Bot(bot.entry), bot.file, Some(index)));
            }
        } else if !args.bots.is_empty() {
            if args.bots.iter().any(|b| b == "*") {
                for index in 0..entries(&checked, list).len() {
                    let bot = named_bot(&checked, list, index);
                    targets.push((Entity::Bot(bot.entry), bot.file, Some(index)));
                }
            } else {
                for asked in &args.bots {
                    let (bot, note) = find_bot(&checked, list, asked, &args.on_account)
                        .map_err(|e| self.relativize(e))?;
                    pending.notes.extend(note);
                    targets.push((Entity::Bot(bot.entry), bot.file, Some(bot.index)));
                }
            }
        } else {
            let entity = if !args.template.is_empty() {
                Entity::Template(args.template.clone())
            } else if !args.account.is_empty() {
                Entity::Account(args.account.clone())
            } else {
                Entity::Settings
            };
            let file = Self::file_of(&files, &entity)?;
            targets.push((entity, file, None));
        }
        let trees = files.trees();
        for (entity, file, index) in &targets {
            let mut fields = args.fields.clone();
            for (field, delta) in &args.add {
                let current = match (entity, index) {
                    (Entity::Bot(b), Some(i)) if b.list == BotList::Grid => {
                        serde_json::to_value(&checked.grid_bots[*i].spec)
                            .ok()
                            .and_then(|v| v.get(field).cloned())
                    }
                    (Entity::Bot(_), Some(i)) => {
                        checked.bots[*i].settings().to_map().get(field).cloned()
                    }
                    (Entity::Template(name), _) => trees
                        .iter()
                        .find_map(|(_, t)| t.get("templates")?.get(name)?.get(field).cloned()),
                    _ => None,
                };
                fields.insert(field.clone(), add_decimal(field, current.as_ref(), delta)?);
            }
            pending.add(
                &files,
                file,
                &Op::Set {
                    entity: entity.clone(),
                    fields,
                },
            )?;
        }
        self.finish_edit(&files, pending, args.write_invalid)
    }

    /// Add a bot to the config (from scratch, a template or a copy). Returns the diff and
    /// validation; refuses an invalid result.
    #[tool(
        title = "Add a bot",
        annotations(
            title = "Add a bot",
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = false
        )
    )]
    async fn add_bot(
        &self,
        Parameters(args): Parameters<AddBotArgs>,
    ) -> Result<Json<EditAnswer>, String> {
        let name = args.name.trim().to_string();
        if name.is_empty() {
            return Err("the new bot needs a `name`".into());
        }
        let list = list_of(&args.kind)?;
        if list == BotList::Grid && !args.pairs.is_empty() {
            return Err("a grid bot trades one `pair`: give it in `fields`".into());
        }
        let _one_edit_at_a_time = edit_lock(&self.inner.root).await?;
        let files = RootFiles::read(&self.inner.root)?;
        let trees = files.trees();
        let mut fields = Map::new();
        fields.insert("name".into(), Value::String(name.clone()));
        let mut file = None;
        let mut pending = Pending::default();
        if !args.from_bot.is_empty() {
            let checked = crate::config::check_confined(&self.inner.root);
            let (bot, note) = find_bot(&checked, list, &args.from_bot, &args.account)
                .map_err(|e| self.relativize(format!("{e} (the bot to copy)")))?;
            pending.notes.extend(note);
            let source = trees
                .iter()
                .find(|(p, _)| *p == bot.file)
                .and_then(|(_, t)| bot_entry(t, &bot.entry))
                .cloned()
                .ok_or_else(|| {
                    format!("the entry of bot \"{}\" could not be read", bot.entry.name)
                })?;
            let path = bot.file;
            for (k, v) in source {
                if k != "name" && k != "id" {
                    fields.insert(k, v);
                }
            }
            file = Some(path);
        }
        if !args.account.is_empty() {
            fields.insert("account".into(), Value::String(args.account.clone()));
        }
        if !args.template.is_empty() {
            fields.insert("template".into(), Value::String(args.template.clone()));
        }
        if !args.pairs.is_empty() {
            fields.insert(
                "pairs".into(),
                Value::Array(
                    args.pairs
                        .iter()
                        .map(|p| Value::String(p.trim().to_ascii_uppercase()))
                        .collect(),
                ),
            );
        }
        for (k, v) in &args.fields {
            if k != "name" {
                fields.insert(k.clone(), v.clone());
            }
        }
        let account = fields
            .get("account")
            .and_then(Value::as_str)
            .map(str::to_string);
        let taken = trees.iter().any(|(_, t)| {
            t.get(list.key())
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|b| {
                    b.get("name").and_then(Value::as_str) == Some(name.as_str())
                        && b.get("account").and_then(Value::as_str).map(str::to_string) == account
                })
        });
        if taken {
            return Err(format!(
                "a bot named \"{name}\" is already on account `{}`: names are unique per account",
                account.unwrap_or_default()
            ));
        }
        let path = if !args.file.is_empty() {
            let path = paths::resolve(&self.inner.root, &args.file)?;
            if Syntax::from_path(&path).is_none() {
                return Err(format!(
                    "`{}`: use a .toml, .yaml or .yml file",
                    crate::diagnostic::quote_input(&args.file)
                ));
            }
            paths::seen_by_the_loader(&self.inner.root, &path)?;
            path
        } else if let Some(path) = file {
            path
        } else {
            let template = fields.get("template").and_then(Value::as_str);
            trees
                .iter()
                .find(|(_, t)| {
                    template.is_some()
                        && t.get(list.key())
                            .and_then(Value::as_array)
                            .is_some_and(|bots| {
                                bots.iter()
                                    .any(|b| b.get("template").and_then(Value::as_str) == template)
                            })
                })
                .or_else(|| trees.iter().find(|(_, t)| t.get(list.key()).is_some()))
                .map(|(p, _)| p.clone())
                .unwrap_or_else(|| self.inner.root.join(format!("{}.toml", list.key())))
        };
        pending.add(&files, &path, &Op::AddBot { list, fields })?;
        self.finish_edit(&files, pending, args.write_invalid)
    }

    /// Remove a bot from the config: `absent` (apply deletes it) or `forget` (left alone live).
    /// Returns the diff and validation.
    #[tool(
        title = "Remove a bot",
        annotations(
            title = "Remove a bot",
            read_only_hint = false,
            // It overwrites or removes what the files said (the diff shows what).
            destructive_hint = true,
            open_world_hint = false,
            idempotent_hint = false
        )
    )]
    async fn remove_bot(
        &self,
        Parameters(args): Parameters<RemoveBotArgs>,
    ) -> Result<Json<EditAnswer>, String> {
        let _one_edit_at_a_time = edit_lock(&self.inner.root).await?;
        let files = RootFiles::read(&self.inner.root)?;
        let checked = crate::config::check_confined(&self.inner.root);
        let (bot, note) = find_bot(&checked, list_of(&args.kind)?, &args.bot, &args.account)
            .map_err(|e| self.relativize(e))?;
        let op = match args.how.as_str() {
            "" | "absent" => {
                let mut fields = Map::new();
                fields.insert("absent".into(), Value::Bool(true));
                Op::Set {
                    entity: Entity::Bot(bot.entry),
                    fields,
                }
            }
            "forget" => Op::RemoveBot(bot.entry),
            other => {
                return Err(format!(
                    "how `{}`: use `absent` or `forget`",
                    crate::diagnostic::quote_input(other)
                ));
            }
        };
        let mut pending = Pending {
            notes: note.into_iter().collect(),
            ..Pending::default()
        };
        pending.add(&files, &bot.file, &op)?;
        self.finish_edit(&files, pending, args.write_invalid)
    }

    /// Add pairs to the config's account-wide blacklist. Returns the diff and validation.
    #[tool(
        title = "Blacklist pairs",
        annotations(
            title = "Blacklist pairs",
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn blacklist_add(
        &self,
        Parameters(args): Parameters<BlacklistArgs>,
    ) -> Result<Json<EditAnswer>, String> {
        let pairs = normalized_pairs(&args.pairs)?;
        let _one_edit_at_a_time = edit_lock(&self.inner.root).await?;
        let files = RootFiles::read(&self.inner.root)?;
        let trees = files.trees();
        let path = trees
            .iter()
            .find(|(_, t)| t.get("blacklist").is_some())
            .or_else(|| trees.iter().find(|(_, t)| t.get("accounts").is_some()))
            .or_else(|| trees.first())
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| self.inner.root.join("shared.toml"));
        let mut pending = Pending::default();
        pending.add(&files, &path, &Op::BlacklistAdd { pairs })?;
        self.finish_edit(&files, pending, false)
    }

    /// Remove pairs from the config's account-wide blacklist. Returns the diff and validation.
    #[tool(
        title = "Unblacklist pairs",
        annotations(
            title = "Unblacklist pairs",
            read_only_hint = false,
            // It overwrites or removes what the files said (the diff shows what).
            destructive_hint = true,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn blacklist_remove(
        &self,
        Parameters(args): Parameters<BlacklistArgs>,
    ) -> Result<Json<EditAnswer>, String> {
        let pairs = normalized_pairs(&args.pairs)?;
        let _one_edit_at_a_time = edit_lock(&self.inner.root).await?;
        let files = RootFiles::read(&self.inner.root)?;
        let path = files
            .trees()
            .into_iter()
            .find(|(_, t)| t.get("blacklist").is_some())
            .map(|(p, _)| p)
            .ok_or("the config has no blacklist")?;
        let mut pending = Pending::default();
        pending.add(&files, &path, &Op::BlacklistRemove { pairs })?;
        self.finish_edit(&files, pending, false)
    }
}

fn normalized_pairs(pairs: &[String]) -> Result<Vec<String>, String> {
    if pairs.is_empty() {
        return Err("give at least one pair (`USDT_LUNA`)".into());
    }
    pairs
        .iter()
        .map(|p| {
            let p = p.trim().to_ascii_uppercase();
            match p.split_once('_') {
                Some((q, b)) if !q.is_empty() && !b.is_empty() => Ok(p),
                _ => Err(format!(
                    "`{p}` is not a pair in 3Commas' form QUOTE_BASE (`USDT_LUNA`)"
                )),
            }
        })
        .collect()
}
