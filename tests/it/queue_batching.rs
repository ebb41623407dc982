//! Batching at the database level: occurrences that share a batch key go out as one
//! delivery, by mode; a batch leaves when its wait has passed or when it is full. No
//! worker runs; the tests claim by hand (`queue`'s harness).

use chrono::Duration;
use hookdesk::delivery::batching::{self, BatchMode};
use hookdesk::delivery::claim;
use hookdesk::delivery::queue::{Delivery, NewDelivery};

use crate::helpers::{Backend, TestApp};
use crate::queue::{enqueue, new, no_worker, queue_tests, t0};

queue_tests!(
    batching_modes_group_occurrences,
    batch_is_sent_after_its_wait,
    batch_is_sent_when_full,
);

fn batched(
    mode: BatchMode,
    webhook: i64,
    event: &str,
    body: &str,
    wait: i64,
    max: i32,
) -> NewDelivery {
    let mut n = new(body);
    n.webhook_id = Some(webhook);
    n.batch = batching::spec(mode, webhook, event, &n.request, wait, max);
    n
}

async fn batching_modes_group_occurrences(app: TestApp) {
    app.with_conn(|c| {
        // Same event: ticket.updated occurrences share, ticket.created gets its own.
        let a = enqueue(
            c,
            &batched(
                BatchMode::SameEvent,
                1,
                "ticket.updated",
                "{\"n\":1}",
                30,
                10,
            ),
            t0(),
        );
        let b = enqueue(
            c,
            &batched(
                BatchMode::SameEvent,
                1,
                "ticket.updated",
                "{\"n\":2}",
                30,
                10,
            ),
            t0(),
        );
        let x = enqueue(
            c,
            &batched(
                BatchMode::SameEvent,
                1,
                "ticket.created",
                "{\"n\":3}",
                30,
                10,
            ),
            t0(),
        );
        assert_eq!(a, b);
        assert_ne!(a, x);
        assert_eq!(Delivery::get(c, a).unwrap().body, "[{\"n\":1},{\"n\":2}]");
        // Same event type: every ticket.* event shares.
        let a = enqueue(
            c,
            &batched(BatchMode::SameEventType, 2, "ticket.updated", "1", 30, 10),
            t0(),
        );
        let b = enqueue(
            c,
            &batched(BatchMode::SameEventType, 2, "ticket.created", "2", 30, 10),
            t0(),
        );
        let x = enqueue(
            c,
            &batched(
                BatchMode::SameEventType,
                2,
                "webhook.response_processed",
                "3",
                30,
                10,
            ),
            t0(),
        );
        assert_eq!(a, b);
        assert_ne!(a, x);
        // Any event: all share.
        let a = enqueue(
            c,
            &batched(BatchMode::AnyEvent, 3, "ticket.updated", "1", 30, 10),
            t0(),
        );
        let b = enqueue(
            c,
            &batched(
                BatchMode::AnyEvent,
                3,
                "webhook.response_processed",
                "2",
                30,
                10,
            ),
            t0(),
        );
        assert_eq!(a, b);
        assert_eq!(Delivery::get(c, a).unwrap().body, "[1,2]");
        // None: one delivery each, body untouched.
        let a = enqueue(
            c,
            &batched(BatchMode::None, 4, "ticket.updated", "{}", 30, 10),
            t0(),
        );
        let b = enqueue(
            c,
            &batched(BatchMode::None, 4, "ticket.updated", "{}", 30, 10),
            t0(),
        );
        assert_ne!(a, b);
        assert_eq!(Delivery::get(c, a).unwrap().body, "{}");
        // Different webhooks never share.
        let a = enqueue(
            c,
            &batched(BatchMode::AnyEvent, 5, "ticket.updated", "1", 30, 10),
            t0(),
        );
        let b = enqueue(
            c,
            &batched(BatchMode::AnyEvent, 6, "ticket.updated", "1", 30, 10),
            t0(),
        );
        assert_ne!(a, b);
    });
}

async fn batch_is_sent_after_its_wait(app: TestApp) {
    app.with_conn(|c| {
        let a = enqueue(
            c,
            &batched(BatchMode::AnyEvent, 1, "ticket.updated", "1", 30, 10),
            t0(),
        );
        enqueue(
            c,
            &batched(BatchMode::AnyEvent, 1, "ticket.updated", "2", 30, 10),
            t0() + Duration::seconds(10),
        );
        let lease = t0() + Duration::seconds(300);
        let (_, rows) = claim::claim(c, "w", 10, lease, &[], t0() + Duration::seconds(29)).unwrap();
        assert!(rows.is_empty(), "the batch waits for more");
        let (_, rows) = claim::claim(c, "w", 10, lease, &[], t0() + Duration::seconds(30)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, a);
        assert_eq!(rows[0].body, "[1,2]");
        // Claimed means closed: the next occurrence opens a new batch.
        let b = enqueue(
            c,
            &batched(BatchMode::AnyEvent, 1, "ticket.updated", "3", 30, 10),
            t0() + Duration::seconds(31),
        );
        assert_ne!(a, b);
        assert_eq!(Delivery::get(c, b).unwrap().body, "[3]");
    });
}

async fn batch_is_sent_when_full(app: TestApp) {
    app.with_conn(|c| {
        let ids: Vec<i64> = (1..=5)
            .map(|i| {
                enqueue(
                    c,
                    &batched(
                        BatchMode::SameEvent,
                        1,
                        "ticket.updated",
                        &i.to_string(),
                        600,
                        3,
                    ),
                    t0(),
                )
            })
            .collect();
        assert_eq!(ids[0], ids[2]);
        assert_ne!(ids[2], ids[3], "the fourth occurrence opens a new batch");
        assert_eq!(ids[3], ids[4]);
        // The full batch is due at once; the open one waits.
        let (_, rows) = claim::claim(c, "w", 10, t0() + Duration::seconds(60), &[], t0()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].body, "[1,2,3]");
        let open = Delivery::get(c, ids[3]).unwrap();
        assert_eq!((open.body.as_str(), open.batch_count), ("[4,5]", 2));
    });
}
