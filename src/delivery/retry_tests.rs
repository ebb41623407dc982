use super::*;
use chrono::TimeZone;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn status(s: u16) -> Outcome {
    let class = match s {
        200..=299 => None,
        300..=399 => Some(ErrorClass::Redirect),
        _ => Some(ErrorClass::Http),
    };
    Outcome {
        status: Some(s),
        error: class,
        retry_after: None,
    }
}

fn error(class: ErrorClass) -> Outcome {
    Outcome {
        status: None,
        error: Some(class),
        retry_after: None,
    }
}

fn delay_of(d: Decision) -> Duration {
    match d {
        Decision::Retry { at } => (at - now()).to_std().unwrap(),
        other => panic!("expected a retry, got {other:?}"),
    }
}

fn within(d: Duration, base: Duration, jitter: f64) -> bool {
    let lo = base.mul_f64(1.0 - jitter);
    let hi = base.mul_f64(1.0 + jitter);
    d >= lo && d <= hi
}

#[test]
fn default_schedule_is_the_documented_one() {
    let p = RetryPolicy::default();
    let secs: Vec<u64> = p.schedule.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, vec![0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
    assert_eq!(p.max_attempts(), 8);
}

#[test]
fn retries_follow_the_schedule_with_jitter() {
    let p = RetryPolicy::default();
    let mut r = rng();
    for n in 1..8u32 {
        let d = delay_of(next_delay(&p, n, &status(503), now(), &mut r));
        let base = p.schedule[n as usize];
        assert!(within(d, base, 0.2), "attempt {n}: {d:?} vs {base:?}");
    }
    assert!(matches!(
        next_delay(&p, 8, &status(503), now(), &mut r),
        Decision::GiveUp { .. }
    ));
}

#[test]
fn jitter_spreads_and_is_deterministic_for_a_seed() {
    let p = RetryPolicy::default();
    let a: Vec<Duration> = {
        let mut r = rng();
        (0..50)
            .map(|_| delay_of(next_delay(&p, 3, &status(500), now(), &mut r)))
            .collect()
    };
    let b: Vec<Duration> = {
        let mut r = rng();
        (0..50)
            .map(|_| delay_of(next_delay(&p, 3, &status(500), now(), &mut r)))
            .collect()
    };
    assert_eq!(a, b);
    let min = a.iter().min().unwrap();
    let max = a.iter().max().unwrap();
    assert!(*min < Duration::from_secs(1800) && *max > Duration::from_secs(1800));
    assert!(*min >= Duration::from_secs(1440) && *max <= Duration::from_secs(2160));
}

#[test]
fn retryable_outcomes() {
    let p = RetryPolicy::default();
    for o in [
        error(ErrorClass::Dns),
        error(ErrorClass::Connect),
        error(ErrorClass::Tls),
        error(ErrorClass::Timeout),
        status(408),
        status(429),
        status(500),
        status(502),
        status(503),
        status(504),
        status(599),
    ] {
        assert!(
            matches!(
                next_delay(&p, 1, &o, now(), &mut rng()),
                Decision::Retry { .. }
            ),
            "{o:?}"
        );
    }
}

#[test]
fn final_outcomes_are_not_retried() {
    let p = RetryPolicy::default();
    for o in [
        error(ErrorClass::RefusedByPolicy),
        error(ErrorClass::TooLarge),
        status(301),
        status(302),
        status(307),
        status(400),
        status(401),
        status(403),
        status(404),
        status(422),
    ] {
        match next_delay(&p, 1, &o, now(), &mut rng()) {
            Decision::GiveUp { reason } => assert!(reason.contains("not retried"), "{reason}"),
            other => panic!("{o:?} gave {other:?}"),
        }
    }
}

#[test]
fn success_and_gone() {
    let p = RetryPolicy::default();
    assert_eq!(
        next_delay(&p, 1, &status(200), now(), &mut rng()),
        Decision::Delivered
    );
    assert_eq!(
        next_delay(&p, 1, &status(204), now(), &mut rng()),
        Decision::Delivered
    );
    assert_eq!(
        next_delay(&p, 1, &status(410), now(), &mut rng()),
        Decision::Gone
    );
    // Gone wins even on the last attempt.
    assert_eq!(
        next_delay(&p, 8, &status(410), now(), &mut rng()),
        Decision::Gone
    );
}

#[test]
fn timeout_and_429_wait_at_least_a_minute() {
    let p = RetryPolicy::default();
    for o in [error(ErrorClass::Timeout), status(429)] {
        // Schedule says 5 s after attempt 1.
        let d = delay_of(next_delay(&p, 1, &o, now(), &mut rng()));
        assert!(d >= Duration::from_secs(60), "{o:?}: {d:?}");
    }
    // A connection error keeps the short delay.
    let d = delay_of(next_delay(
        &p,
        1,
        &error(ErrorClass::Connect),
        now(),
        &mut rng(),
    ));
    assert!(within(d, Duration::from_secs(5), 0.2), "{d:?}");
}

#[test]
fn retry_after_seconds_is_honoured_up_to_a_day() {
    let p = RetryPolicy::default();
    let with = |v: &str| Outcome {
        retry_after: Some(v.into()),
        ..status(503)
    };
    // Attempt 3 → base 30 min, jittered into [24, 36] min.
    let plain = delay_of(next_delay(&p, 3, &status(503), now(), &mut rng()));
    // Longer than the schedule: taken as is.
    let asked = plain.as_secs() * 3;
    let d = delay_of(next_delay(
        &p,
        3,
        &with(&asked.to_string()),
        now(),
        &mut rng(),
    ));
    assert_eq!(d, Duration::from_secs(asked));
    // Shorter than the schedule: the schedule wins.
    let d = delay_of(next_delay(&p, 3, &with("1"), now(), &mut rng()));
    assert_eq!(d, plain);
    // A 429 asking for an hour after the first attempt waits the hour, not the
    // schedule's 5 s (or the 60 s floor after a 429).
    let o = Outcome {
        retry_after: Some("3600".into()),
        ..status(429)
    };
    let d = delay_of(next_delay(&p, 1, &o, now(), &mut rng()));
    assert_eq!(d, Duration::from_secs(3600));
    // Longer than a day: a day.
    let d = delay_of(next_delay(&p, 3, &with("999999"), now(), &mut rng()));
    assert_eq!(d, MAX_RETRY_AFTER);
    // Garbage is ignored.
    let d = delay_of(next_delay(&p, 3, &with("soon"), now(), &mut rng()));
    assert_eq!(d, plain);
}

#[test]
fn retry_after_http_date() {
    let p = RetryPolicy::default();
    // 429 after attempt 1: at least 60 s, so the window is [60 s, 120 s] or more.
    let date = (now() + chrono::Duration::seconds(100))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let o = Outcome {
        retry_after: Some(date),
        ..status(429)
    };
    let d = delay_of(next_delay(&p, 1, &o, now(), &mut rng()));
    assert_eq!(d, Duration::from_secs(100));
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
        Some(Duration::ZERO)
    );
}

#[test]
fn schedule_parsing() {
    let p = RetryPolicy::parse(&[
        "0".into(),
        "30s".into(),
        "2m".into(),
        "1h".into(),
        "1d".into(),
    ])
    .unwrap();
    let secs: Vec<u64> = p.schedule.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, vec![0, 30, 120, 3600, 86_400]);
    assert!(RetryPolicy::parse(&[]).is_err());
    let err = RetryPolicy::parse(&["5 fortnights".into()]).unwrap_err();
    assert!(err.contains("5 fortnights"), "{err}");
    assert!(parse_duration("-5s").is_err());
    assert!(parse_duration("s").is_err());
}

#[test]
fn a_shorter_webhook_schedule_gives_up_sooner() {
    let p = RetryPolicy::parse(&["0s".into(), "10s".into()]).unwrap();
    assert!(matches!(
        next_delay(&p, 1, &status(500), now(), &mut rng()),
        Decision::Retry { .. }
    ));
    assert!(matches!(
        next_delay(&p, 2, &status(500), now(), &mut rng()),
        Decision::GiveUp { .. }
    ));
}
