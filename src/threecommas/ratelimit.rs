//! Client-side pacing: stay under 3Commas' request limit without being told, and when a 429 comes
//! anyway, pause every request (not just the one that failed) instead of retrying into a ban.
//!
//! 3Commas counts requests per key, not per process: with a shared budget (a small state file
//! under botform's state dir, one per target, changed under an OS lock) every botform process on
//! the machine using the same key draws from one window, so `plan --out` then `apply --plan`
//! right away, or two CI steps, never add up to a 429.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: usize,
    /// A minute, as 3Commas counts; shorter only in tests.
    window: Duration,
    state: Mutex<State>,
    shared: Option<SharedBudget>,
}

/// The window shared by processes: request times and any pause, in ms since 1970.
#[derive(Debug)]
pub struct SharedBudget {
    path: std::path::PathBuf,
    window: Duration,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SharedState {
    sent: Vec<u64>,
    paused_until: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl SharedBudget {
    pub fn new(path: std::path::PathBuf, window: Duration) -> SharedBudget {
        SharedBudget { path, window }
    }

    /// Under the file's lock: change the shared state. Errors (a read-only state dir) make the
    /// budget this process's alone, never a failure.
    fn with_state<T>(&self, change: impl FnOnce(&mut SharedState) -> T) -> Option<T> {
        let lock = crate::files::open_lock_file(&self.path.with_extension("lock")).ok()?;
        lock.lock().ok()?;
        let mut state: SharedState = crate::files::read_bounded(&self.path, 1024 * 1024)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let window = self.window.as_millis() as u64;
        let now = now_ms();
        state.sent.retain(|t| now.saturating_sub(*t) < window);
        let result = change(&mut state);
        let bytes = serde_json::to_vec(&state).ok()?;
        crate::files::write_atomic(&self.path, &bytes).ok()?;
        Some(result)
    }

    /// Take a place in the shared window, or say how long to wait for one.
    fn try_take(&self, per_window: usize) -> Option<Duration> {
        let window = self.window.as_millis() as u64;
        self.with_state(|state| {
            let now = now_ms();
            if state.paused_until > now {
                return Some(Duration::from_millis(state.paused_until - now));
            }
            if state.sent.len() < per_window {
                state.sent.push(now);
                return None;
            }
            let oldest = state.sent.iter().min().copied().unwrap_or(now);
            Some(Duration::from_millis(
                (oldest + window).saturating_sub(now).max(1),
            ))
        })
        .flatten()
    }

    fn pause(&self, duration: Duration) {
        let until = now_ms() + duration.as_millis() as u64;
        self.with_state(|state| state.paused_until = state.paused_until.max(until));
    }
}

#[derive(Debug, Default)]
struct State {
    /// When each request of the last minute was let through.
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1) as usize,
            window: WINDOW,
            state: Mutex::new(State::default()),
            shared: None,
        }
    }

    /// The same, also drawing from a window shared with every process that uses `budget`.
    pub fn shared(per_minute: u32, budget: SharedBudget) -> Self {
        RateLimiter {
            window: budget.window,
            shared: Some(budget),
            ..RateLimiter::new(per_minute)
        }
    }

    /// Wait until one more request fits in the window (and any pause is over), here and in the
    /// shared window.
    pub async fn acquire(&self) {
        self.acquire_local().await;
        if let Some(shared) = &self.shared {
            while let Some(wait) = shared.try_take(self.per_minute) {
                tokio::time::sleep(wait).await;
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn processes_with_one_key_draw_from_one_window() {
        // Two limiters that share nothing but the file, as two processes would.
        let dir = tempfile::tempdir().unwrap();
        let budget = || SharedBudget::new(dir.path().join("pace.json"), Duration::from_millis(600));
        let first = RateLimiter::shared(3, budget());
        let second = RateLimiter::shared(3, budget());
        let start = std::time::Instant::now();
        for _ in 0..3 {
            first.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(300));
        // The second process's first request waits for the first's window to pass.
        second.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_millis(550),
            "{:?}",
            start.elapsed()
        );
        // A pause one process takes (a 429) holds the other too.
        second.pause(Duration::from_millis(400)).await;
        let paused = std::time::Instant::now();
        first.acquire().await;
        assert!(paused.elapsed() >= Duration::from_millis(350));
    }

    #[tokio::test(start_paused = true)]
    async fn holds_requests_beyond_the_limit_for_the_window() {
        let limiter = RateLimiter::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(1));
        limiter.acquire().await;
        assert!(start.elapsed() >= WINDOW);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_stops_everyone() {
        let limiter = RateLimiter::new(100);
        limiter.pause(Duration::from_secs(30)).await;
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(30));
    }
}
