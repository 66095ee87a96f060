//! The search, and the ranking every run shares: brackets of candidates with successive halving
//! inside each (see the room's documentation), run in parallel on every core, and
//! [`rank`] over whatever records a run, or the merge of its shards, holds.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::evaluate::{Compiled, Evaluator, Rejection, Score};
use super::{BRACKET, KEEP, SHORTLIST, Shard, Study};
use crate::model::decimal::Decimal;
use crate::simulate::report::Cancel;

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The candidate's number: its values are `space.draw(seed, index)`.
    pub index: u64,
    pub values: Vec<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rejected: Option<Rejection>,
    /// What the bot can lock, in quote; the price move its ladder covers, in percent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub capital: Option<Decimal>,
    #[serde(default)]
    pub coverage: Decimal,
    /// Per fold: the in-sample score, where it was run.
    pub in_sample: Vec<Option<Score>>,
    /// Per fold, for the candidates scored on every fold.
    #[serde(default)]
    pub out_of_sample: Vec<Score>,
    /// Over the cap on the parts it was scored on (`--max-drawdown`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub over_cap: Option<String>,
}

impl Record {
    /// Scored on every fold, in and out of sample, and within the drawdown cap.
    pub fn finalist(&self) -> bool {
        self.rejected.is_none()
            && self.over_cap.is_none()
            && !self.out_of_sample.is_empty()
            && self.in_sample.iter().all(Option::is_some)
    }

    pub fn in_sample_totals(&self) -> Score {
        Score::total(self.in_sample.iter().flatten())
    }

    pub fn out_of_sample_totals(&self) -> Score {
        Score::total(&self.out_of_sample)
    }
}

/// What a run found: the current config's scores and the candidates of the brackets it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Records {
    pub study: Study,
    /// A digest of the config text and the candles: shards of one study agree on it.
    pub fingerprint: String,
    pub shard: Shard,
    /// The brackets run, ascending.
    pub brackets: Vec<u64>,
    /// The config as it stands, scored on every part.
    pub baseline: Record,
    pub records: Vec<Record>,
    /// Stopped early (Ctrl-C, a cancelled call): the brackets run are whole, the rest missing.
    pub interrupted: bool,
}

/// Tell a front end how far a run is: candidates done of all, and the best in-sample objective
/// of a finalist so far.
pub trait Progress: Sync {
    fn advanced(&self, done: u64, total: u64, best: Option<Decimal>);
}

impl Progress for () {
    fn advanced(&self, _: u64, _: u64, _: Option<Decimal>) {}
}

/// Score the current config on every part.
pub fn baseline(evaluator: &Evaluator) -> Result<Record, String> {
    let compiled = evaluator.baseline()?;
    let values: Vec<Decimal> = evaluator
        .current
        .iter()
        .map(|v| v.unwrap_or_default())
        .collect();
    let mut record = Record {
        index: u64::MAX,
        values,
        rejected: None,
        capital: compiled.capital,
        coverage: compiled.coverage,
        in_sample: vec![None; evaluator.folds.len()],
        out_of_sample: Vec::new(),
        over_cap: None,
    };
    finish(evaluator, &compiled, &mut record);
    Ok(record)
}

/// Run the shard's brackets (all of them for [`Shard::ALL`]) on every core. Once `cancel` is
/// set, brackets stop within a candidate; the brackets that ended are kept, whole.
pub fn run(
    evaluator: &Evaluator,
    shard: Shard,
    fingerprint: String,
    cancel: &Cancel,
    progress: &dyn Progress,
) -> Result<Records, String> {
    let baseline = baseline(evaluator)?;
    let study = &evaluator.study;
    let mine: Vec<u64> = (0..study.brackets()).filter(|b| shard.runs(*b)).collect();
    let total = mine.iter().map(|b| bracket_size(study, *b)).sum::<u64>();
    let done = std::sync::atomic::AtomicU64::new(0);
    let best = std::sync::Mutex::new(None::<Decimal>);
    let ran: Vec<Option<(u64, Vec<Record>)>> = mine
        .par_iter()
        .map(|&b| {
            let records = bracket(evaluator, b, cancel)?;
            let top = records
                .iter()
                .filter(|r| r.finalist())
                .map(|r| objective(study, r, true))
                .max();
            let n = done.fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed)
                + records.len() as u64;
            let shown = {
                let mut best = best.lock().unwrap_or_else(|e| e.into_inner());
                *best = (*best).max(top);
                *best
            };
            progress.advanced(n, total, shown);
            Some((b, records))
        })
        .collect();
    let interrupted = ran.iter().any(Option::is_none);
    let ran: Vec<(u64, Vec<Record>)> = ran.into_iter().flatten().collect();
    Ok(Records {
        study: study.clone(),
        fingerprint,
        shard,
        brackets: ran.iter().map(|(b, _)| *b).collect(),
        baseline,
        records: ran.into_iter().flat_map(|(_, r)| r).collect(),
        interrupted,
    })
}

fn bracket_size(study: &Study, b: u64) -> u64 {
    (study.trials - (b * BRACKET).min(study.trials)).min(BRACKET)
}

/// One bracket: every candidate on one fold's in-sample part, then the best [`KEEP`] of them
/// on every part. `None` when cancelled before its end (a bracket counts only whole: the cancel
/// is checked before each candidate's runs, so a run stops within one candidate).
fn bracket(evaluator: &Evaluator, b: u64, cancel: &Cancel) -> Option<Vec<Record>> {
    let study = &evaluator.study;
    let folds = evaluator.folds.len();
    let first_fold = (b % folds as u64) as usize;
    let first = b * BRACKET;
    let mut records = Vec::new();
    let mut compiled: Vec<Option<Compiled>> = Vec::new();
    for index in first..first + bracket_size(study, b) {
        if cancel.is_cancelled() {
            return None;
        }
        let values = study.space.draw(study.seed, index);
        let mut record = Record {
            index,
            values: values.clone(),
            rejected: None,
            capital: None,
            coverage: Decimal::ZERO,
            in_sample: vec![None; folds],
            out_of_sample: Vec::new(),
            over_cap: None,
        };
        match evaluator.compile(&values) {
            Ok(c) => {
                record.capital = c.capital;
                record.coverage = c.coverage;
                record.in_sample[first_fold] =
                    Some(evaluator.score(&c, &evaluator.folds[first_fold].in_sample));
                record.over_cap = evaluator.over_cap(&record.in_sample_totals(), c.capital);
                compiled.push(Some(c));
            }
            Err(why) => {
                record.rejected = Some(why);
                compiled.push(None);
            }
        }
        records.push(record);
    }
    // The bracket's best on its first fold go on: within the cap first, then by the objective,
    // then by number (ties never depend on the order of work).
    let mut order: Vec<usize> = (0..records.len())
        .filter(|&i| compiled[i].is_some() && records[i].over_cap.is_none())
        .collect();
    order.sort_by(|&a, &b| {
        objective(study, &records[b], true)
            .cmp(&objective(study, &records[a], true))
            .then(records[a].index.cmp(&records[b].index))
    });
    for &i in order.iter().take(KEEP) {
        if cancel.is_cancelled() {
            return None;
        }
        if let Some(c) = &compiled[i] {
            finish(evaluator, c, &mut records[i]);
        }
    }
    Some(records)
}

/// Score a candidate on every part it has not been scored on.
fn finish(evaluator: &Evaluator, compiled: &Compiled, record: &mut Record) {
    for (k, fold) in evaluator.folds.iter().enumerate() {
        if record.in_sample[k].is_none() {
            record.in_sample[k] = Some(evaluator.score(compiled, &fold.in_sample));
        }
    }
    record.over_cap = evaluator.over_cap(&record.in_sample_totals(), compiled.capital);
    record.out_of_sample = evaluator
        .folds
        .iter()
        .map(|fold| evaluator.score(compiled, &fold.out_of_sample))
        .collect();
}

/// A record's objective, in sample or out of sample.
pub fn objective(study: &Study, record: &Record, in_sample: bool) -> Decimal {
    let totals = if in_sample {
        record.in_sample_totals()
    } else {
        record.out_of_sample_totals()
    };
    totals.value(study.objective, record.capital)
}

/// Candidates by what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Counts {
    pub drawn: u64,
    /// Refused by validate (3Commas' rules, `max_capital`), or not backtestable.
    pub invalid: u64,
    /// Outside --min-coverage.
    pub infeasible: u64,
    /// Over --max-drawdown in sample.
    pub over_drawdown: u64,
    /// Stopped after their bracket's first fold.
    pub halved: u64,
    /// Scored on every fold, in and out of sample.
    pub finalists: u64,
}

/// The ranking: the best in sample, ordered by their out-of-sample objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Best first; at most [`SHORTLIST`].
    pub top: Vec<Record>,
    pub baseline: Record,
    pub counts: Counts,
    /// The commonest reasons validate refused candidates (by diagnostic code, with one
    /// message as an example), with how many.
    pub refusals: Vec<(String, u64)>,
}

impl Ranking {
    pub fn winner(&self) -> Option<&Record> {
        self.top.first()
    }

    /// Does the winner beat the current config out of sample?
    pub fn winner_beats_baseline(&self, study: &Study) -> bool {
        self.winner()
            .is_some_and(|w| objective(study, w, false) > objective(study, &self.baseline, false))
    }
}

/// Rank a run's records (or the union of its shards'): the [`SHORTLIST`] best finalists in
/// sample, ordered by out of sample, then in sample, then by number.
pub fn rank(records: &Records) -> Ranking {
    let study = &records.study;
    let mut counts = Counts::default();
    // By diagnostic code: the messages differ in their figures.
    let mut refusals: std::collections::BTreeMap<String, (String, u64)> = Default::default();
    for r in &records.records {
        counts.drawn += 1;
        match &r.rejected {
            Some(Rejection::Invalid(why)) => {
                counts.invalid += 1;
                let code = why.split_once(": ").map_or(why.as_str(), |(c, _)| c);
                refusals
                    .entry(code.to_string())
                    .or_insert_with(|| (why.clone(), 0))
                    .1 += 1;
            }
            Some(Rejection::Infeasible(_)) => counts.infeasible += 1,
            None if r.over_cap.is_some() => counts.over_drawdown += 1,
            None if r.finalist() => counts.finalists += 1,
            None => counts.halved += 1,
        }
    }
    let mut finalists: Vec<&Record> = records.records.iter().filter(|r| r.finalist()).collect();
    finalists.sort_by(|a, b| {
        objective(study, b, true)
            .cmp(&objective(study, a, true))
            .then(a.index.cmp(&b.index))
    });
    finalists.truncate(SHORTLIST);
    finalists.sort_by(|a, b| {
        objective(study, b, false)
            .cmp(&objective(study, a, false))
            .then(objective(study, b, true).cmp(&objective(study, a, true)))
            .then(a.index.cmp(&b.index))
    });
    let mut refusals: Vec<(String, u64)> = refusals.into_values().collect();
    refusals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    refusals.truncate(3);
    Ranking {
        top: finalists.into_iter().cloned().collect(),
        baseline: records.baseline.clone(),
        counts,
        refusals,
    }
}

/// Merge shards of one study into the records a single run would hold: every shard present
/// once, all of the same study and the same config and candles.
pub fn merge(mut shards: Vec<Records>) -> Result<Records, String> {
    let Some(first) = shards.first() else {
        return Err("give the shards' result files".into());
    };
    let (study, fingerprint, count) = (
        first.study.clone(),
        first.fingerprint.clone(),
        first.shard.count,
    );
    let mut seen = vec![false; count as usize];
    for s in &shards {
        if s.study != study || s.fingerprint != fingerprint {
            return Err(format!(
                "shard {}/{} is of another study (other settings, config or candles) than shard {}/{}",
                s.shard.index, s.shard.count, first.shard.index, first.shard.count
            ));
        }
        if s.shard.count != count {
            return Err(format!(
                "shard {}/{} is one of {} shards, shard {}/{} one of {count}",
                s.shard.index, s.shard.count, s.shard.count, first.shard.index, first.shard.count
            ));
        }
        let slot = &mut seen[(s.shard.index - 1) as usize];
        if *slot {
            return Err(format!("shard {}/{count} is given twice", s.shard.index));
        }
        *slot = true;
    }
    // Each candidate must be the study's: drawn from its seed, in a bracket its shard ran (a
    // file edited or mixed by hand is refused, not ranked).
    for s in &shards {
        for r in &s.records {
            let bracket = r.index / BRACKET;
            if !s.shard.runs(bracket) || !s.brackets.contains(&bracket) {
                return Err(format!(
                    "shard {}/{}: candidate {} is not in a bracket it ran",
                    s.shard.index, s.shard.count, r.index
                ));
            }
            if r.values != study.space.draw(study.seed, r.index) {
                return Err(format!(
                    "shard {}/{}: candidate {} has values the study does not draw (the file was edited?)",
                    s.shard.index, s.shard.count, r.index
                ));
            }
            if r.in_sample.len() != study.folds as usize
                || !(r.out_of_sample.is_empty() || r.out_of_sample.len() == study.folds as usize)
            {
                return Err(format!(
                    "shard {}/{}: candidate {} is not scored on the study's {} folds",
                    s.shard.index, s.shard.count, r.index, study.folds
                ));
            }
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen[(*k - 1) as usize])
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("shards missing: {}", missing.join(", ")));
    }
    let interrupted = shards.iter().any(|s| s.interrupted);
    let baseline = shards[0].baseline.clone();
    let mut brackets: Vec<u64> = shards.iter().flat_map(|s| s.brackets.clone()).collect();
    brackets.sort_unstable();
    let mut records: Vec<Record> = shards.drain(..).flat_map(|s| s.records).collect();
    records.sort_by_key(|r| r.index);
    Ok(Records {
        study,
        fingerprint,
        shard: Shard::ALL,
        brackets,
        baseline,
        records,
        interrupted,
    })
}

/// Records as JSON lines: the run's header (the study, the fingerprint, the shard, the brackets
/// run, the baseline), then one candidate a line. What `--shard` writes and `merge` reads.
pub fn to_json_lines(records: &Records) -> String {
    let header = Records {
        records: Vec::new(),
        ..records.clone()
    };
    let mut text = serde_json::to_string(&header).unwrap_or_default();
    text.push('\n');
    for r in &records.records {
        text.push_str(&serde_json::to_string(r).unwrap_or_default());
        text.push('\n');
    }
    text
}

/// Read [`to_json_lines`]' output; `what` names the file in errors.
pub fn from_json_lines(text: &str, what: &str) -> Result<Records, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("{what}: empty: give the file `botform optimize --shard` wrote"))?;
    let mut records: Records = serde_json::from_str(header).map_err(|e| {
        format!("{what}:1: not the header of `botform optimize --shard` results ({e})")
    })?;
    for (i, line) in lines {
        let record: Record = serde_json::from_str(line)
            .map_err(|e| format!("{what}:{}: not a candidate's record ({e})", i + 1))?;
        records.records.push(record);
    }
    Ok(records)
}
