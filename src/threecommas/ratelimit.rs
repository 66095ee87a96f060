//! Client-side pacing: stay under 3Commas' request limit without being told, and when a 429 comes
//! anyway, pause every request (not just the one that failed) instead of retrying into a ban.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: usize,
    state: Mutex<State>,
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
            state: Mutex::new(State::default()),
        }
    }

    /// Wait until one more request fits in the window (and any pause is over).
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                while state
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    state.sent.pop_front();
                }
                match state.paused_until {
                    Some(until) if until > now => until - now,
                    _ if state.sent.len() < self.per_minute => {
                        state.sent.push_back(now);
                        return;
                    }
                    _ => WINDOW - now.duration_since(*state.sent.front().expect("window is full")),
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Stop every request for `duration` (after a 429).
    pub async fn pause(&self, duration: Duration) {
        let mut state = self.state.lock().await;
        let until = Instant::now() + duration;
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
