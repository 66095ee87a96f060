//! Client-side pacing: stay under 3Commas' request limit without being told, and when a 429 comes
//! anyway, pause every request (not just the one that failed) instead of retrying into a ban.
//!
//! 3Commas counts requests per key, and bans per IP: with a shared budget (a small state file
//! under botform's state dir, changed under an OS lock) every botform process on the machine
//! draws from one window per API origin (the machine's IP as 3Commas sees it; it holds every
//! key's requests, so it bounds each key too), so `plan --out` then `apply --plan` right away,
//! two CI steps, or two keys, never add up to a 429. A 418 ban is written into the origin's file with its end (`Retry-After` when 3Commas
//! sends one, else a default that doubles with each ban within three days, from 2 minutes up to
//! 3 days, as 3Commas escalates): until then no process sends anything, and each says when it may
//! try again.
//!
//! Times come from a [`Clock`], so tests move time by hand instead of waiting on it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(60);

/// The first ban's default length, when 3Commas gives no `Retry-After`.
const FIRST_BAN: Duration = Duration::from_secs(120);
/// The longest ban 3Commas gives.
const LONGEST_BAN: Duration = Duration::from_secs(3 * 24 * 3600);

/// Milliseconds since 1970: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    })
}

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: usize,
    /// A minute, as 3Commas counts; shorter only in tests.
    window: Duration,
    state: Mutex<State>,
    /// The window shared with other processes: the API origin's.
    shared: Option<SharedBudget>,
    clock: ClockHandle,
}

/// A [`Clock`] that prints as nothing (for `Debug`).
#[derive(Clone)]
struct ClockHandle(Clock);

impl std::fmt::Debug for ClockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// A window shared by processes: request times, any pause and any ban, in ms since 1970.
#[derive(Debug)]
pub struct SharedBudget {
    path: std::path::PathBuf,
    window: Duration,
    clock: ClockHandle,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SharedState {
    sent: Vec<u64>,
    paused_until: u64,
    /// A 418's end: nothing is sent before it.
    #[serde(default)]
    banned_until: u64,
    /// When each ban of the last three days began (the next default is twice the last).
    #[serde(default)]
    bans: Vec<u64>,
}

/// What a shared window says to a request.
#[derive(Debug, PartialEq, Eq)]
enum Take {
    Go,
    Wait(Duration),
    /// Banned until then (ms since 1970).
    Banned(u64),
}

/// A 418 ban in force: nothing may be sent before `until` (ms since 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BannedUntil(pub u64);

impl SharedBudget {
    pub fn new(path: std::path::PathBuf, window: Duration) -> SharedBudget {
        SharedBudget::with_clock(path, window, system_clock())
    }

    pub fn with_clock(path: std::path::PathBuf, window: Duration, clock: Clock) -> SharedBudget {
        SharedBudget {
            path,
            window,
            clock: ClockHandle(clock),
        }
    }

    fn now(&self) -> u64 {
        (self.clock.0)()
    }

    /// Under the file's lock: change the shared state. Errors (a read-only state dir) make the
    /// budget this process's alone, never a failure. The lock, not the disk, is what makes the
    /// window exact across processes, so request times are written without an fsync (`durable`
    /// false: a power loss forgets at most the last minute, which a reboot outlasts); bans are
    /// written durably, since they outlast a reboot.
    fn with_state<T>(
        &self,
        durable: bool,
        change: impl FnOnce(&mut SharedState, u64) -> T,
    ) -> Option<T> {
        let lock = crate::files::open_lock_file(&self.path.with_extension("lock")).ok()?;
        lock.lock().ok()?;
        let mut state: SharedState = crate::files::read_bounded(&self.path, 1024 * 1024)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let window = self.window.as_millis() as u64;
        let now = self.now();
        state.sent.retain(|t| now.saturating_sub(*t) < window);
        state
            .bans
            .retain(|t| now.saturating_sub(*t) < LONGEST_BAN.as_millis() as u64);
        let result = change(&mut state, now);
        let bytes = serde_json::to_vec(&state).ok()?;
        if durable {
            crate::files::write_atomic(&self.path, &bytes).ok()?;
        } else {
            crate::files::write_atomic_volatile(&self.path, &bytes).ok()?;
        }
        Some(result)
    }

    /// Take a place in the shared window, or say how long to wait for one, or that a ban holds.
    fn try_take(&self, per_window: usize) -> Take {
        let window = self.window.as_millis() as u64;
        self.with_state(false, |state, now| {
            if state.banned_until > now {
                return Take::Banned(state.banned_until);
            }
            if state.paused_until > now {
                return Take::Wait(Duration::from_millis(state.paused_until - now));
            }
            if state.sent.len() < per_window {
                state.sent.push(now);
                return Take::Go;
            }
            let oldest = state.sent.iter().min().copied().unwrap_or(now);
            Take::Wait(Duration::from_millis(
                (oldest + window).saturating_sub(now).max(1),
            ))
        })
        .unwrap_or(Take::Go)
    }

    fn pause(&self, duration: Duration) {
        self.with_state(false, |state, now| {
            state.paused_until = state.paused_until.max(now + duration.as_millis() as u64)
        });
    }

    /// Record a 418 and return its end: `retry_after` when 3Commas said, else twice the last
    /// ban of the last three days (2 minutes the first time), at most 3 days.
    fn ban(&self, retry_after: Option<Duration>) -> Option<u64> {
        self.with_state(true, |state, now| {
            let length = retry_after.unwrap_or_else(|| {
                let doublings = state.bans.len().min(16) as u32;
                (FIRST_BAN * 2u32.pow(doublings)).min(LONGEST_BAN)
            });
            state.bans.push(now);
            state.banned_until = state
                .banned_until
                .max(now + length.min(LONGEST_BAN).as_millis() as u64);
            state.banned_until
        })
    }
}

#[derive(Debug, Default)]
struct State {
    /// When each request of the last minute was let through.
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
    /// A 418's end, in ms since 1970 (shared budgets keep it for other processes too).
    banned_until: Option<u64>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1) as usize,
            window: WINDOW,
            state: Mutex::new(State::default()),
            shared: None,
            clock: ClockHandle(system_clock()),
        }
    }

    /// The same, also drawing from a window shared with every process that uses `budget` (the
    /// API origin's, which also keeps bans).
    pub fn shared(per_minute: u32, budget: SharedBudget) -> Self {
        RateLimiter {
            window: budget.window,
            clock: budget.clock.clone(),
            shared: Some(budget),
            ..RateLimiter::new(per_minute)
        }
    }

    /// Wait until one more request fits in the window (and any pause is over), here and in the
    /// shared window; refused at once while a ban holds, here or in any process.
    pub async fn acquire(&self) -> Result<(), BannedUntil> {
        if let Some(until) = self.state.lock().await.banned_until
            && until > (self.clock.0)()
        {
            return Err(BannedUntil(until));
        }
        self.acquire_local().await;
        if let Some(shared) = &self.shared {
            loop {
                match shared.try_take(self.per_minute) {
                    Take::Go => break,
                    Take::Wait(wait) => tokio::time::sleep(wait).await,
                    Take::Banned(until) => {
                        self.state.lock().await.banned_until = Some(until);
                        return Err(BannedUntil(until));
                    }
                }
            }
        }
        Ok(())
    }

    async fn acquire_local(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                while state
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    state.sent.pop_front();
                }
                match state.paused_until {
                    Some(until) if until > now => until - now,
                    _ if state.sent.len() < self.per_minute => {
                        state.sent.push_back(now);
                        return;
                    }
                    _ => {
                        self.window
                            - now.duration_since(*state.sent.front().expect("window is full"))
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Stop every request for `duration` (after a 429).
    pub async fn pause(&self, duration: Duration) {
        if let Some(shared) = &self.shared {
            shared.pause(duration);
        }
        let mut state = self.state.lock().await;
        let until = Instant::now() + duration;
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }

    /// A 418: stop everything until the ban ends, here and in every process that shares a
    /// budget; returns the end (ms since 1970).
    pub async fn ban(&self, retry_after: Option<Duration>) -> BannedUntil {
        let now = (self.clock.0)();
        let mut until = self
            .shared
            .as_ref()
            .and_then(|s| s.ban(retry_after))
            .unwrap_or(0);
        let mut state = self.state.lock().await;
        if until == 0 {
            // No shared budget: this process's own escalation is all there is.
            let length = retry_after.unwrap_or(FIRST_BAN).min(LONGEST_BAN);
            until = now + length.as_millis() as u64;
        }
        state.banned_until = Some(state.banned_until.unwrap_or(0).max(until));
        BannedUntil(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock that moves only when the test says.
    fn manual_clock() -> (Arc<AtomicU64>, Clock) {
        let now = Arc::new(AtomicU64::new(1_700_000_000_000));
        let read = now.clone();
        (now, Arc::new(move || read.load(Ordering::SeqCst)))
    }

    #[test]
    fn processes_with_one_key_draw_from_one_window() {
        // Two budgets that share nothing but the file, as two processes would, on a clock the
        // test moves: no step depends on how fast the machine is.
        let dir = tempfile::tempdir().unwrap();
        let (now, clock) = manual_clock();
        let window = Duration::from_millis(600);
        let first = SharedBudget::with_clock(dir.path().join("pace.json"), window, clock.clone());
        let second = SharedBudget::with_clock(dir.path().join("pace.json"), window, clock);
        for _ in 0..3 {
            assert_eq!(first.try_take(3), Take::Go);
        }
        // The second process's first request waits for the first's window to pass.
        now.fetch_add(100, Ordering::SeqCst);
        assert_eq!(second.try_take(3), Take::Wait(Duration::from_millis(500)));
        now.fetch_add(500, Ordering::SeqCst);
        assert_eq!(second.try_take(3), Take::Go);
        // A pause one process takes (a 429) holds the other too.
        second.pause(Duration::from_millis(400));
        assert_eq!(first.try_take(3), Take::Wait(Duration::from_millis(400)));
        now.fetch_add(400, Ordering::SeqCst);
        assert_eq!(first.try_take(3), Take::Go);
    }

    #[test]
    fn a_ban_holds_every_process_and_doubles_when_no_retry_after_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let (now, clock) = manual_clock();
        let start = now.load(Ordering::SeqCst);
        let origin = |c: Clock| SharedBudget::with_clock(dir.path().join("host.json"), WINDOW, c);
        let (one, two) = (origin(clock.clone()), origin(clock));
        let until = one.ban(None).unwrap();
        assert_eq!(until, start + 120_000, "2 minutes the first time");
        assert_eq!(
            two.try_take(90),
            Take::Banned(until),
            "the other process sends nothing"
        );
        now.store(until, Ordering::SeqCst);
        assert_eq!(two.try_take(90), Take::Go);
        let again = two.ban(None).unwrap();
        assert_eq!(again, until + 240_000, "twice as long the second time");
        // 3Commas' own word wins when it gives one.
        now.store(again, Ordering::SeqCst);
        assert_eq!(
            one.ban(Some(Duration::from_secs(30))).unwrap(),
            again + 30_000
        );
    }

    #[tokio::test(start_paused = true)]
    async fn holds_requests_beyond_the_limit_for_the_window() {
        let limiter = RateLimiter::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await.unwrap();
        }
        assert!(start.elapsed() < Duration::from_millis(1));
        limiter.acquire().await.unwrap();
        assert!(start.elapsed() >= WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_stops_everyone() {
        let limiter = RateLimiter::new(100);
        limiter.pause(Duration::from_secs(30)).await;
        let start = Instant::now();
        limiter.acquire().await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(30));
    }
}
