//! Fault injection for tests: `--faults 5xx=0.1,timeout=0.05,reset=0.02,seed=7`.
//!
//! Each API request draws once: a 5xx answer, a slow answer (longer than a client waits), or a
//! dropped connection. For writes, half of the faults strike after the write took effect: the case
//! that makes careless clients create duplicates. Deterministic for a given seed and request order.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub server_error: f64,
    pub timeout: f64,
    pub reset: f64,
    pub seed: u64,
    /// How long a "timeout" answer takes.
    pub slow: Duration,
    /// Added to every API answer (`latency_ms=`), fault or not: a slow network, so a test can
    /// interrupt a long apply halfway.
    pub latency: Duration,
    /// Share of writes answered 504 at once while the write commits later (`late=`, and when:
    /// `late_ms=`): a gateway that gave up on an origin that went on, as Cloudflare does.
    pub late: f64,
    pub late_commit: LateCommit,
    /// At most this many writes are late (`late_max=`): the first unclear create, and then an
    /// honest server, for tests of what the next run does.
    pub late_max: Option<u64>,
}

/// When a late write commits (`late_ms=`). Tests use the two event-driven forms, so no test
/// races the sandbox's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateCommit {
    /// `late_ms=N`: N milliseconds after its 504.
    After(Duration),
    /// `late_ms=next`: just before the sandbox serves its next API request (the origin finished
    /// before the client asked anything else).
    NextRequest,
    /// `late_ms=held`: when `POST /__sandbox/late/commit` says so.
    Held,
}

impl Default for FaultSpec {
    fn default() -> Self {
        FaultSpec {
            server_error: 0.0,
            timeout: 0.0,
            reset: 0.0,
            seed: 0,
            slow: Duration::from_secs(35),
            latency: Duration::ZERO,
            late: 0.0,
            late_commit: LateCommit::After(Duration::from_millis(1500)),
            late_max: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ServerError,
    Slow,
    Reset,
}

/// When a fault strikes relative to the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    Before,
    After,
}

impl FaultSpec {
    pub fn parse(spec: &str) -> Result<FaultSpec, String> {
        let mut faults = FaultSpec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected KEY=VALUE"))?;
            let probability = || -> Result<f64, String> {
                let p: f64 = value
                    .parse()
                    .map_err(|_| format!("`{part}`: not a number"))?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(format!("`{part}`: a probability is between 0 and 1"))
                }
            };
            match key {
                "5xx" => faults.server_error = probability()?,
                "timeout" => faults.timeout = probability()?,
                "reset" => faults.reset = probability()?,
                "seed" => {
                    faults.seed = value
                        .parse()
                        .map_err(|_| format!("`{part}`: not a whole number"))?
                }
                "late" => faults.late = probability()?,
                "late_ms" => {
                    faults.late_commit = match value {
                        "next" => LateCommit::NextRequest,
                        "held" => LateCommit::Held,
                        ms => {
                            LateCommit::After(Duration::from_millis(ms.parse().map_err(|_| {
                                format!(
                                    "`{part}`: a whole number of milliseconds, `next` or `held`"
                                )
                            })?))
                        }
                    }
                }
                "late_max" => {
                    faults.late_max = Some(
                        value
                            .parse()
                            .map_err(|_| format!("`{part}`: not a whole number"))?,
                    )
                }
                "latency_ms" => {
                    faults.latency = Duration::from_millis(
                        value
                            .parse()
                            .map_err(|_| format!("`{part}`: not a whole number"))?,
                    )
                }
                "slow_ms" => {
                    faults.slow = Duration::from_millis(
                        value
                            .parse()
                            .map_err(|_| format!("`{part}`: not a whole number"))?,
                    )
                }
                other => {
                    return Err(format!(
                        "unknown fault `{other}`: use 5xx, timeout, reset, late, seed, slow_ms, late_ms, late_max, latency_ms"
                    ));
                }
            }
        }
        if faults.server_error + faults.timeout + faults.reset > 1.0 {
            return Err("fault probabilities add up to more than 1".into());
        }
        Ok(faults)
    }

    pub fn is_active(&self) -> bool {
        self.server_error + self.timeout + self.reset + self.late > 0.0
    }

    /// Pick the fault for a request from two uniform draws in [0, 1).
    pub fn pick(&self, draw: f64, timing_draw: f64, is_write: bool) -> Option<(Fault, Timing)> {
        let fault = if draw < self.server_error {
            Fault::ServerError
        } else if draw < self.server_error + self.timeout {
            Fault::Slow
        } else if draw < self.server_error + self.timeout + self.reset {
            Fault::Reset
        } else {
            return None;
        };
        let timing = if is_write && timing_draw < 0.5 {
            Timing::After
        } else {
            Timing::Before
        };
        Some((fault, timing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let f = FaultSpec::parse("5xx=0.1,timeout=0.05,reset=0.02,seed=7").unwrap();
        assert_eq!(
            (f.server_error, f.timeout, f.reset, f.seed),
            (0.1, 0.05, 0.02, 7)
        );
        assert!(FaultSpec::parse("5xx=2").is_err());
        assert!(FaultSpec::parse("boom=0.1").is_err());
    }

    #[test]
    fn reads_never_fault_after_the_fact() {
        let f = FaultSpec::parse("5xx=1").unwrap();
        assert_eq!(
            f.pick(0.5, 0.1, false),
            Some((Fault::ServerError, Timing::Before))
        );
        assert_eq!(
            f.pick(0.5, 0.1, true),
            Some((Fault::ServerError, Timing::After))
        );
    }
}
