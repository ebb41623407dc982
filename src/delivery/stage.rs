//! Where a delivery stands as people read it (the log, the ticket page, the API), kept
//! apart from the queue's own states (`queue::Status`), which are fewer.

/// Where a delivery stands, as people read it (the log, the ticket page, the API).
/// The queue's own states are fewer: "queued" and "retrying" are both `pending`, told
/// apart by whether an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Queued,
    Retrying,
    /// Waiting, uncounted, while its connection is paused (breaker or administrator).
    Held,
    Sending,
    Delivered,
    Failed,
    Cancelled,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Queued,
        Stage::Retrying,
        Stage::Held,
        Stage::Sending,
        Stage::Delivered,
        Stage::Failed,
        Stage::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Retrying => "retrying",
            Stage::Held => "held",
            Stage::Sending => "sending",
            Stage::Delivered => "delivered",
            Stage::Failed => "failed",
            Stage::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Queued => "Queued",
            Stage::Retrying => "Retrying",
            Stage::Held => "Held",
            Stage::Sending => "Sending",
            Stage::Delivered => "Delivered",
            Stage::Failed => "Failed",
            Stage::Cancelled => "Cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|x| x.code() == s)
    }

    /// The status of a delivery row (`status`, `attempts`).
    pub fn of(status: &str, attempts: i32) -> Stage {
        match status {
            "pending" if attempts > 0 => Stage::Retrying,
            "pending" => Stage::Queued,
            "in_flight" => Stage::Sending,
            "succeeded" => Stage::Delivered,
            "failed" => Stage::Failed,
            _ => Stage::Cancelled,
        }
    }

    /// The status of a delivery row whose connection may be paused: a pending delivery
    /// of a paused connection is held.
    pub fn of_held(status: &str, attempts: i32, connection_paused: bool) -> Stage {
        match Stage::of(status, attempts) {
            Stage::Queued | Stage::Retrying if connection_paused => Stage::Held,
            s => s,
        }
    }

    /// Still moving: a live view refreshes it until it settles.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Stage::Queued | Stage::Retrying | Stage::Held | Stage::Sending
        )
    }

    /// Nothing more will happen to it by itself.
    pub fn settled(self) -> bool {
        !self.is_open()
    }

    pub fn as_str(self) -> &'static str {
        self.code()
    }
}
